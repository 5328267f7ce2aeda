/**
 * The event log: the latest allocations and frees as a ring, each with its address, label and
 * site, plus the pools' own events (memory reserved and released, out-of-memory, cache trims).
 * It exports as a trace (the format of shared/traces, for replayTrace) or as a timeline (every
 * column, for snapshots and the viewer).
 *
 * @module
 */

import { formatBytes, GpumemError, InvalidArgumentError } from "../errors.ts";
import { EventOp, Names, type Timeline, TimelineBuilder } from "./timeline.ts";
import type { Trace, TraceEvent } from "./trace_format.ts";

/** Most events a log keeps: 2^26 (3 GiB of events). */
const MAX_EVENT_CAPACITY = 2 ** 26;
/** Bytes a log keeps per event: four float64 columns, the address, label and site indices. */
const BYTES_PER_EVENT = 48;

export function checkCapacity(capacity: number): void {
  if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > MAX_EVENT_CAPACITY) {
    throw new InvalidArgumentError(
      "eventCapacity",
      `an integer from 0 to ${MAX_EVENT_CAPACITY}`,
      capacity,
    );
  }
}

/** A ring of the latest `capacity` events. */
export class EventLog {
  /** Events it keeps. */
  readonly capacity: number;
  /** [op, id, size, stream] per event. */
  readonly #events: Float64Array<ArrayBuffer>;
  /** Addresses as given (bigint): converting each to a number on the hot path costs more. */
  readonly #addresses: BigUint64Array<ArrayBuffer>;
  /** [label, site] per event. */
  readonly #names: Int32Array<ArrayBuffer>;
  /** performance.now() per event, when the tracker takes timestamps. */
  readonly #times: Float64Array<ArrayBuffer>;
  readonly #labels = new Names();
  readonly #sites = new Names();
  readonly #pools = new Names();
  #written = 0;
  /** Where the next event goes. */
  #slot = 0;

  /**
   * A log of `capacity` events (1 to 2^26; with `timestamps` a time each). GpumemError when its
   * arrays cannot be had.
   */
  constructor(capacity: number, timestamps: boolean) {
    checkCapacity(capacity);
    try {
      this.#events = new Float64Array(4 * capacity);
      this.#addresses = new BigUint64Array(capacity);
      this.#names = new Int32Array(2 * capacity);
      this.#times = new Float64Array(timestamps ? capacity : 0);
    } catch (error) {
      throw new GpumemError(
        `an event log of ${capacity} events (${
          formatBytes(BYTES_PER_EVENT * capacity)
        }) could not be allocated`,
        { cause: error },
      );
    }
    this.capacity = capacity;
  }

  /** Events recorded so far (it keeps the latest `capacity`). */
  get count(): number {
    return this.#written;
  }

  /** Records an allocation. */
  allocate(
    id: number,
    size: number,
    stream: number,
    address: bigint,
    label: string | undefined,
    site: string | undefined,
    time: number,
  ): void {
    const slot = this.#next(EventOp.allocate, id, size, stream, address, time);
    this.#names[2 * slot] = this.#labels.indexOf(label);
    this.#names[2 * slot + 1] = this.#sites.indexOf(site);
  }

  /** Records a free (with the allocation's size and address, for frees of what the log never saw allocated). */
  free(id: number, size: number, stream: number, address: bigint, time: number): void {
    this.#next(EventOp.free, id, size, stream, address, time);
  }

  /** Records one of a pool's events (reserve, release, outOfMemory, trim). */
  pool(op: number, pool: string, bytes: number, address: bigint, time: number): void {
    this.#next(op, this.#pools.indexOf(pool), bytes, 0, address, time);
  }

  #next(op: number, id: number, size: number, stream: number, address: bigint, time: number) {
    const slot = this.#slot;
    this.#slot = slot + 1 === this.capacity ? 0 : slot + 1;
    this.#written++;
    const at = 4 * slot;
    const events = this.#events;
    events[at] = op;
    events[at + 1] = id;
    events[at + 2] = size;
    events[at + 3] = stream;
    this.#addresses[slot] = address;
    this.#names[2 * slot] = -1;
    this.#names[2 * slot + 1] = -1;
    if (this.#times.length !== 0) this.#times[slot] = time;
    return slot;
  }

  /** Slots of the kept events, oldest first. */
  *#kept(): Generator<number> {
    const kept = Math.min(this.#written, this.capacity);
    for (let n = this.#written - kept; n < this.#written; n++) yield n % this.capacity;
  }

  /** The kept allocations and frees as a trace; frees of allocations older than the window are left out. */
  trace(workload: string): Trace {
    const events: TraceEvent[] = [];
    let live = 0;
    let peak = 0;
    const sizes = new Map<number, number>();
    for (const slot of this.#kept()) {
      const [op, id, size, stream] = this.#events.subarray(4 * slot, 4 * slot + 4);
      if (op === EventOp.allocate) {
        events.push(["a", id, size, stream]);
        sizes.set(id, size);
        live += size;
        peak = Math.max(peak, live);
      } else if (op === EventOp.free && sizes.has(id)) {
        events.push(["f", id, 0, stream]);
        live -= sizes.get(id)!;
        sizes.delete(id);
      }
    }
    return { workload, events, peak_live: peak };
  }

  /** Every kept event in columns. */
  timeline(): Timeline {
    const builder = new TimelineBuilder(this.#times.length !== 0, {
      labels: this.#labels.list,
      sites: this.#sites.list,
      pools: this.#pools.list,
    }, Math.max(0, this.#written - this.capacity));
    for (const slot of this.#kept()) {
      builder.push({
        op: this.#events[4 * slot],
        id: this.#events[4 * slot + 1],
        size: this.#events[4 * slot + 2],
        stream: this.#events[4 * slot + 3],
        address: Number(this.#addresses[slot]),
        label: this.#names[2 * slot],
        site: this.#names[2 * slot + 1],
        time: this.#times[slot],
      });
    }
    return builder.finish();
  }
}
