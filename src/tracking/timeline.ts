/**
 * The timeline: events in columns (what the event log exports, what snapshots carry and what the
 * viewer reads), with the builder that the log, the snapshot reader and the PyTorch reader share.
 *
 * @module
 */

/** What an event is (the timeline's `op` column). */
export const EventOp = {
  /** A buffer allocated: id, bytes, stream, address, label, site. */
  allocate: 0,
  /** A buffer freed: id, bytes, stream, address. */
  free: 1,
  /** A pool took memory from its upstream: pool index as id, bytes, address. */
  reserve: 2,
  /** A pool gave memory back: pool index as id, bytes, address. */
  release: 3,
  /** A pool refused an allocation: pool index as id, bytes asked for. */
  outOfMemory: 4,
  /** A pool's cache was trimmed or freed: pool index as id, bytes it was asked to keep. */
  trim: 5,
} as const;

/** Events in columns, oldest first (JSON-serialisable). */
export interface Timeline {
  /** {@linkcode EventOp} per event. */
  op: number[];
  /** Allocation id (allocate, free) or pool index (the pool events). */
  id: number[];
  /** Bytes. */
  size: number[];
  /** Stream number (0: none or the legacy default stream). */
  stream: number[];
  /** Address (allocate, free, reserve, release; else 0). */
  address: number[];
  /** Index into `labels` (allocate; else -1). */
  label: number[];
  /** Index into `sites` (allocate with a site; else -1). */
  site: number[];
  /** performance.now()-like milliseconds per event when recorded, else null. */
  time: number[] | null;
  /** Label names. */
  labels: string[];
  /** Site texts. */
  sites: string[];
  /** Pool names (the pool events' `id`). */
  pools: string[];
  /** Events recorded before the oldest one kept. */
  dropped: number;
}

/** Interns strings as small indices (labels, sites, pool names). */
export class Names {
  /** The names, by index. */
  readonly list: string[];
  readonly #index = new Map<string, number>();
  #last: string | undefined = undefined;
  #lastIndex = -1;

  /** Names starting with `list` (indices kept). */
  constructor(list: readonly string[] = []) {
    this.list = [...list];
    this.list.forEach((name, i) => this.#index.set(name, i));
  }

  /** The index of `name` (added when new); -1 for undefined. */
  indexOf(name: string | undefined): number {
    if (name === undefined) return -1;
    if (name === this.#last) return this.#lastIndex; // a loop of one label skips the map
    let index = this.#index.get(name);
    if (index === undefined) {
      index = this.list.length;
      this.list.push(name);
      this.#index.set(name, index);
    }
    this.#last = name;
    this.#lastIndex = index;
    return index;
  }
}

/** One event for {@linkcode TimelineBuilder.push}; what is left out is 0 (label, site: -1). */
export interface TimelineEvent {
  op: number;
  id: number;
  size: number;
  address?: number;
  stream?: number;
  label?: number;
  site?: number;
  time?: number;
}

/** Builds a timeline event by event, interning its names. */
export class TimelineBuilder {
  readonly labels: Names;
  readonly sites: Names;
  readonly pools: Names;
  readonly #timed: boolean;
  readonly #dropped: number;
  readonly #columns: Pick<
    Timeline,
    "op" | "id" | "size" | "stream" | "address" | "label" | "site"
  > = {
    op: [],
    id: [],
    size: [],
    stream: [],
    address: [],
    label: [],
    site: [],
  };
  readonly #times: number[] = [];

  /** A builder; `timed` keeps a time per event; the name lists start as given. */
  constructor(
    timed: boolean,
    names: { labels?: readonly string[]; sites?: readonly string[]; pools?: readonly string[] } =
      {},
    dropped = 0,
  ) {
    this.#timed = timed;
    this.labels = new Names(names.labels);
    this.sites = new Names(names.sites);
    this.pools = new Names(names.pools);
    this.#dropped = dropped;
  }

  /** Appends one event. */
  push(event: TimelineEvent): void {
    const c = this.#columns;
    c.op.push(event.op);
    c.id.push(event.id);
    c.size.push(event.size);
    c.stream.push(event.stream ?? 0);
    c.address.push(event.address ?? 0);
    c.label.push(event.label ?? -1);
    c.site.push(event.site ?? -1);
    if (this.#timed) this.#times.push(event.time ?? NaN);
  }

  /**
   * Appends event `i` of `from`, a timeline whose label and site lists this builder started
   * with (so their indices carry over); a pool event's pool is looked up by name.
   */
  copy(from: Timeline, i: number): void {
    const op = from.op[i];
    this.push({
      op,
      id: op >= EventOp.reserve ? this.pools.indexOf(from.pools[from.id[i]]) : from.id[i],
      size: from.size[i],
      stream: from.stream[i],
      address: from.address[i],
      label: from.label[i],
      site: from.site[i],
      time: from.time?.[i],
    });
  }

  /** Events pushed so far. */
  get length(): number {
    return this.#columns.op.length;
  }

  /** The timeline. */
  finish(): Timeline {
    return {
      ...this.#columns,
      time: this.#timed ? this.#times : null,
      labels: this.labels.list,
      sites: this.sites.list,
      pools: this.pools.list,
      dropped: this.#dropped,
    };
  }
}
