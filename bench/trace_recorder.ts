/**
 * Writing a generated allocation trace: seeded random numbers, allocations rounded as PyTorch
 * rounds them (512 B), frees, and the live peak, in the format of shared/traces. The bench
 * generators (kv_cache_trace.ts, stress_traces.ts) build on it.
 *
 * @module
 */

import type { Trace, TraceEvent } from "../src/tracking/trace_format.ts";

/** A trace being written. */
export interface TraceRecorder {
  /** Uniform in [0, 1), from the recorder's seed. */
  random(): number;
  /** Allocates `bytes` (rounded up to 512) on `stream`; returns the allocation's id. */
  alloc(bytes: number, stream?: number): number;
  /** Frees allocation `id`. */
  free(id: number, stream?: number): void;
  /** Events so far. */
  readonly length: number;
  /** The trace so far. */
  trace(workload: string): Trace;
}

/** A recorder whose random numbers start from `seed`. */
export function traceRecorder(seed: number): TraceRecorder {
  let state = seed >>> 0;
  const events: TraceEvent[] = [];
  const sizes = new Map<number, number>();
  let id = 0, live = 0, peak = 0;
  return {
    random: () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32,
    alloc(bytes, stream = 0) {
      const size = Math.ceil(bytes / 512) * 512;
      events.push(["a", id, size, stream]);
      sizes.set(id, size);
      live += size;
      peak = Math.max(peak, live);
      return id++;
    },
    free(which, stream = 0) {
      events.push(["f", which, 0, stream]);
      live -= sizes.get(which)!;
      sizes.delete(which);
    },
    get length() {
      return events.length;
    },
    trace: (workload) => ({ workload, events, peak_live: peak }),
  };
}
