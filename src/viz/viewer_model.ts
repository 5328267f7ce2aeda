/**
 * What the memory viewer draws, built from a timeline (the event log's columns, whatever recorded
 * them): each allocation as an interval of events with its size, label, site and address, the
 * pools' reservations as signed steps, and the marks (out-of-memory, trims). Plain typed arrays,
 * so a page can hold a 1.5-million-event run.
 *
 * @module
 */

import { EventOp, type Timeline } from "../tracking/timeline.ts";

/** One figure shown beside the timeline: a name and its value as text. */
export type Figure = [name: string, value: string];

/** A horizontal line drawn across the timeline (another allocator's peak, say). */
export interface ReferenceLine {
  /** What it is. */
  name: string;
  /** Where it lies. */
  bytes: number;
}

/** Everything the page needs, typed arrays included (see encodeModel for the page's form). */
export interface ViewerModel {
  /** Heading. */
  title: string;
  /** What it was made from. */
  source: string;
  /** Events on the x axis. */
  events: number;
  /** performance.now()-like milliseconds per event, when recorded; else null. */
  times: Float64Array<ArrayBuffer> | null;
  /** Label names (allocation `label` indexes them). */
  labels: string[];
  /** Site texts (allocation `site` indexes them; -1: none). */
  sites: string[];
  /** Pool names (reservation `pool` indexes them). */
  pools: string[];
  /** Per allocation: the event it was made at, the event it was freed at (`events` if never), size, label, site, address. */
  allocations: {
    start: Int32Array<ArrayBuffer>;
    end: Int32Array<ArrayBuffer>;
    size: Float64Array<ArrayBuffer>;
    label: Int32Array<ArrayBuffer>;
    site: Int32Array<ArrayBuffer>;
    address: Float64Array<ArrayBuffer>;
  };
  /** Per reservation step: its event, pool, signed bytes and address (0: unknown). */
  reservations: {
    at: Int32Array<ArrayBuffer>;
    pool: Int32Array<ArrayBuffer>;
    delta: Float64Array<ArrayBuffer>;
    address: Float64Array<ArrayBuffer>;
  };
  /** Out-of-memory and trim events. */
  marks: { at: number; kind: "oom" | "trim"; text: string }[];
  /** The pool's limit in bytes, or null. */
  limit: number | null;
  /** Figures to show (hit rate, upstream calls, peak reserved ÷ peak live, ...). */
  figures: Figure[];
  /** Lines to draw across the timeline. */
  references: ReferenceLine[];
}

/** Options for {@linkcode modelFromTimeline}. */
export interface ModelOptions {
  /** Heading. */
  title: string;
  /** Where it came from. */
  source: string;
  /** Limit line. */
  limit?: number | null;
  /** Figures to show. */
  figures?: Figure[];
  /** Reference lines. */
  references?: ReferenceLine[];
}

/** Label of allocations the timeline frees without having seen them allocated. */
export const BEFORE_THE_LOG = "(allocated before the log)";

/**
 * The viewer model of `timeline`: allocations paired with their frees, reservations, marks. A
 * free of an allocation the timeline never saw (made before a log started) becomes an allocation
 * live from the first event, labelled BEFORE_THE_LOG.
 */
export function modelFromTimeline(timeline: Timeline, options: ModelOptions): ViewerModel {
  const n = timeline.op.length;
  let reservations = 0;
  const seen = new Set<number>();
  const earlier: number[] = []; // events freeing what was allocated before the timeline began
  for (let i = 0; i < n; i++) {
    const op = timeline.op[i];
    if (op === EventOp.allocate) seen.add(timeline.id[i]);
    else if (op === EventOp.free && !seen.has(timeline.id[i])) earlier.push(i);
    else if (op === EventOp.reserve || op === EventOp.release) reservations++;
  }
  const allocations = seen.size + earlier.length;
  const a = {
    start: new Int32Array(allocations),
    end: new Int32Array(allocations).fill(n),
    size: new Float64Array(allocations),
    label: new Int32Array(allocations),
    site: new Int32Array(allocations),
    address: new Float64Array(allocations),
  };
  const r = {
    at: new Int32Array(reservations),
    pool: new Int32Array(reservations),
    delta: new Float64Array(reservations),
    address: new Float64Array(reservations),
  };
  const marks: ViewerModel["marks"] = [];
  const labels = timeline.labels.length > 0 ? [...timeline.labels] : ["(unlabelled)"];
  let next = 0, step = 0;
  if (earlier.length > 0) {
    const label = labels.push(BEFORE_THE_LOG) - 1;
    for (const i of earlier) {
      a.start[next] = 0;
      a.end[next] = i;
      a.size[next] = timeline.size[i];
      a.label[next] = label;
      a.site[next] = -1;
      a.address[next++] = timeline.address[i];
    }
  }
  const open = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const op = timeline.op[i], id = timeline.id[i], size = timeline.size[i];
    if (op === EventOp.allocate) {
      a.start[next] = i;
      a.size[next] = size;
      a.label[next] = timeline.label[i];
      a.site[next] = timeline.site[i];
      a.address[next] = timeline.address[i];
      open.set(id, next++);
    } else if (op === EventOp.free) {
      const index = open.get(id);
      if (index !== undefined) {
        a.end[index] = i;
        open.delete(id);
      }
    } else if (op === EventOp.reserve || op === EventOp.release) {
      r.at[step] = i;
      r.pool[step] = id;
      r.delta[step] = op === EventOp.reserve ? size : -size;
      r.address[step++] = timeline.address[i];
    } else if (op === EventOp.outOfMemory) {
      marks.push({ at: i, kind: "oom", text: `${timeline.pools[id]}: out of memory (${size} B)` });
    } else if (op === EventOp.trim) {
      marks.push({ at: i, kind: "trim", text: `${timeline.pools[id]}: cache trimmed` });
    }
  }
  for (let i = 0; i < allocations; i++) if (a.label[i] < 0) a.label[i] = 0;
  return {
    title: options.title,
    source: options.source,
    events: n,
    times: timeline.time === null ? null : Float64Array.from(timeline.time),
    labels,
    sites: [...timeline.sites],
    pools: timeline.pools.length > 0 ? [...timeline.pools] : ["pool"],
    allocations: a,
    reservations: r,
    marks,
    limit: options.limit ?? null,
    figures: options.figures ?? [],
    references: options.references ?? [],
  };
}

/** Peak of the summed live sizes, and the event it is reached at. */
export function peakLive(model: ViewerModel): { bytes: number; at: number } {
  const delta = new Float64Array(model.events + 1);
  const { start, end, size } = model.allocations;
  for (let i = 0; i < start.length; i++) {
    delta[start[i]] += size[i];
    delta[end[i]] -= size[i];
  }
  let live = 0, bytes = 0, at = 0;
  for (let e = 0; e < model.events; e++) {
    live += delta[e];
    if (live > bytes) {
      bytes = live;
      at = e;
    }
  }
  return { bytes, at };
}
