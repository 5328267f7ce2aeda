/**
 * The pool's statistics: current, peak and total counters, kept exact on every path.
 *
 * @module
 */

/** Current, peak (since the last reset) and total (ever) of one quantity. */
export interface StatCounter {
  /** Now. */
  current: number;
  /** Highest value since creation or the last resetPeaks(). */
  peak: number;
  /** Sum of every increase since creation. */
  total: number;
}

/** A snapshot of a pool's statistics. */
export interface PoolStats {
  /** Bytes in blocks handed out (rounded sizes). */
  allocatedBytes: StatCounter;
  /** Bytes callers asked for (unrounded). */
  requestedBytes: StatCounter;
  /** Bytes of memory held from the upstream (in use or cached; mapped bytes when growing in place). */
  reservedBytes: StatCounter;
  /** Blocks handed out. */
  allocations: StatCounter;
  /**
   * Segments held from the upstream; for a pool growing in place over an AddressSpaceResource,
   * the separately mapped pieces of its reserved ranges.
   */
  segments: StatCounter;
  /** Calls to the upstream (allocate, deallocate; reserve, release, map, unmap). */
  upstreamCalls: number;
  /** Allocations served from the cache. */
  cacheHits: number;
  /**
   * Allocations the stream's quick lists and best fit could not serve at once (then served by
   * merging pending blocks, borrowing from another stream, or new memory).
   */
  cacheMisses: number;
  /**
   * Misses served by a free block of another stream instead of new memory: of an idle stream,
   * or, when growing was refused, of a busy one after an event wait (see MemoryPool).
   */
  borrowedAcrossStreams: number;
  /** Misses served by new memory from the upstream (every other allocation needed no upstream call). */
  growths: number;
  /** Bytes cached (reserved but not allocated). */
  freeCachedBytes: number;
  /** The largest cached free block. */
  largestFreeBlock: number;
  /** 1 − largest free block ÷ free cached bytes (0 when nothing is cached). */
  fragmentation: number;
}

/**
 * The share of allocations served without an upstream call (0 before any): from the quick lists
 * or best fit at once, or after merging pending blocks or borrowing from another stream.
 */
export function hitRate(stats: PoolStats): number {
  const allocations = stats.cacheHits + stats.cacheMisses;
  return allocations === 0 ? 0 : 1 - stats.growths / allocations;
}

/** A mutable counter with peak tracking. */
export class Counter implements StatCounter {
  /** Now. */
  current = 0;
  /** Highest since reset. */
  peak = 0;
  /** Every increase. */
  total = 0;

  /** Adds `amount` (positive). */
  add(amount: number): void {
    this.current += amount;
    this.total += amount;
    if (this.current > this.peak) this.peak = this.current;
  }

  /** Subtracts `amount` (positive). */
  sub(amount: number): void {
    this.current -= amount;
  }

  /** Sets the peak to the current value. */
  resetPeak(): void {
    this.peak = this.current;
  }

  /** A plain copy. */
  snapshot(): StatCounter {
    return { current: this.current, peak: this.peak, total: this.total };
  }
}
