/**
 * The event log: the latest allocations and frees as a ring of [op, id, size, stream] (the
 * format of shared/traces), exportable as a trace that replayTrace replays.
 *
 * @module
 */

import { formatBytes, GpumemError, InvalidArgumentError } from "../errors.ts";
import type { Trace, TraceEvent } from "./trace_format.ts";

/** Most events a log keeps: 2^26 (2 GiB of events). */
const MAX_EVENT_CAPACITY = 2 ** 26;

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
  /** [op (0 allocate, 1 free), id, size, stream] per event. */
  readonly #events: Float64Array<ArrayBuffer>;
  /** performance.now() per event, when the tracker takes timestamps. */
  readonly #times: Float64Array<ArrayBuffer>;
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
      this.#times = new Float64Array(timestamps ? capacity : 0);
    } catch (error) {
      throw new GpumemError(
        `an event log of ${capacity} events (${formatBytes(32 * capacity)}) could not be allocated`,
        { cause: error },
      );
    }
    this.capacity = capacity;
  }

  /** Events recorded so far (it keeps the latest `capacity`). */
  get count(): number {
    return this.#written;
  }

  /** Records one event (op 0: allocate, 1: free). */
  log(op: number, id: number, size: number, stream: number, time: number): void {
    const slot = this.#slot;
    this.#slot = slot + 1 === this.capacity ? 0 : slot + 1;
    this.#written++;
    const at = 4 * slot;
    const events = this.#events;
    events[at] = op;
    events[at + 1] = id;
    events[at + 2] = size;
    events[at + 3] = stream;
    if (this.#times.length !== 0) this.#times[slot] = time;
  }

  /** The kept events as a trace; frees of allocations older than the window are left out. */
  trace(workload: string): Trace {
    const kept = Math.min(this.#written, this.capacity);
    const oldest = this.#written - kept;
    const events: TraceEvent[] = [];
    let live = 0;
    let peak = 0;
    const sizes = new Map<number, number>();
    for (let n = oldest; n < this.#written; n++) {
      const at = 4 * (n % this.capacity); // cold path: the division is fine here
      const [op, id, size, stream] = this.#events.subarray(at, at + 4);
      if (op === 0) {
        events.push(["a", id, size, stream]);
        sizes.set(id, size);
        live += size;
        peak = Math.max(peak, live);
      } else if (sizes.has(id)) {
        events.push(["f", id, 0, stream]);
        live -= sizes.get(id)!;
        sizes.delete(id);
      }
    }
    return { workload, events, peak_live: peak };
  }
}
