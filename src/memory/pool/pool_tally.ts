/**
 * A pool's counters: what it hands out, what it holds, what it asked of its upstream and how its
 * requests were served, with peaks. The pool's hot path adds to them; stats() reads them with the
 * free lists' figures.
 *
 * @module
 */

import type { StreamFreeLists } from "./stream_free_lists.ts";
import { Counter, type PoolStats } from "./pool_stats.ts";

/** The counters of one pool (see the module). */
export class PoolTally {
  /** Bytes of blocks handed out (rounded sizes). */
  readonly allocated: Counter = new Counter();
  /** Bytes asked for by those blocks' callers. */
  readonly requested: Counter = new Counter();
  /** Bytes held from the upstream. */
  readonly reserved: Counter = new Counter();
  /** Blocks (and growable ranges) handed out. */
  readonly allocations: Counter = new Counter();
  /** Segments held, or mapped pieces for ranges growing in place. */
  readonly segments: Counter = new Counter();
  /** Calls to the upstream. */
  upstreamCalls = 0;
  /** Allocations served by the quick lists or best fit at once. */
  hits = 0;
  /** Allocations that were not. */
  misses = 0;
  /** Misses served by another stream's free block. */
  borrowed = 0;
  /** Misses served by new memory. */
  growths = 0;

  /** `bytes` more (or, negative, fewer) mapped in a growable range: allocated and reserved. */
  rangeMapped(delta: number): void {
    for (const counter of [this.reserved, this.allocated, this.requested]) {
      if (delta > 0) counter.add(delta);
      else counter.sub(-delta);
    }
  }

  /** The figures, with the free bytes and largest free block of `freeLists`. */
  stats(freeLists: Iterable<StreamFreeLists>): PoolStats {
    let free = 0;
    let largest = 0;
    for (const lists of freeLists) {
      for (const index of [lists.small, lists.large]) {
        free += index.bytes;
        largest = Math.max(largest, index.largest);
      }
    }
    return {
      allocatedBytes: this.allocated.snapshot(),
      requestedBytes: this.requested.snapshot(),
      reservedBytes: this.reserved.snapshot(),
      allocations: this.allocations.snapshot(),
      segments: this.segments.snapshot(),
      upstreamCalls: this.upstreamCalls,
      cacheHits: this.hits,
      cacheMisses: this.misses,
      borrowedAcrossStreams: this.borrowed,
      growths: this.growths,
      freeCachedBytes: free,
      largestFreeBlock: largest,
      fragmentation: free === 0 ? 0 : 1 - largest / free,
    };
  }

  /** Sets every peak to its current value. */
  resetPeaks(): void {
    for (
      const counter of [
        this.allocated,
        this.requested,
        this.reserved,
        this.allocations,
        this.segments,
      ]
    ) {
      counter.resetPeak();
    }
  }
}
