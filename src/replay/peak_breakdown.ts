/**
 * Where a pool's excess memory is (peak reserved − peak live, the question issue 18 asks of each
 * trace): the replay is stopped where live bytes peak, and the pool's reserved bytes there split
 * into what callers asked for, the rounding of their blocks and the free space cached, by size
 * class and stream; what the pool reserved later (its peak minus that) is the growth after it.
 *
 * @module
 */

import type { Block } from "../memory/pool/block.ts";
import { MemoryPool, type MemoryPoolOptions } from "../memory/pool/memory_pool.ts";
import { VirtualResource } from "../memory/virtual_resource.ts";
import type { Trace } from "../tracking/trace_format.ts";
import { replayEvents, TraceStreams } from "./trace.ts";

/** The split of a pool's reserved bytes where live bytes peak. */
export interface PeakBreakdown {
  /** The event (0-based) after which live bytes peaked (first reached their maximum). */
  event: number;
  /** Reserved bytes then. */
  reserved: number;
  /** The pool's peak reserved bytes over the whole trace. */
  peakReserved: number;
  /** peakReserved − reserved: growth after the peak of live bytes. */
  laterGrowth: number;
  /** Bytes live callers asked for then. */
  requested: number;
  /** Bytes of their blocks beyond what they asked (rounding, unsplit remainders). */
  rounding: number;
  /** Free bytes cached in small (≤ 1 MiB requests) and large segments. */
  freeSmall: number;
  freeLarge: number;
  /** Free bytes waiting on other streams' events (pending reuse). */
  pending: number;
  /** Free bytes by owning stream number (0: the default stream). */
  freeByStream: Record<number, number>;
  /** The largest free block then. */
  largestFree: number;
}

/** Runs `trace` through a fresh pool up to and with event `stop`. */
function replayTo(trace: Trace, options: MemoryPoolOptions, stop: number) {
  const pool = new MemoryPool(new VirtualResource(), options);
  const streams = new TraceStreams();
  const live = new Map<number, Block>();
  replayEvents(trace, pool, streams, live, stop + 1, false);
  const close = () => {
    for (const block of live.values()) pool.deallocateBlock(block);
    pool.close();
    streams.close();
  };
  return { pool, close };
}

/** The breakdown of `trace`'s replay where live bytes peak (see PeakBreakdown). */
export function peakBreakdown(trace: Trace, options: MemoryPoolOptions = {}): PeakBreakdown {
  let peak = -1, at = 0, live = 0;
  const sizes = new Map<number, number>();
  trace.events.forEach(([op, id, size], i) => {
    if (op === "a") {
      sizes.set(id, size);
      live += size;
    } else live -= sizes.get(id) ?? 0;
    if (live > peak) {
      peak = live;
      at = i;
    }
  });
  const whole = replayTo(trace, options, Infinity);
  const peakReserved = whole.pool.stats().reservedBytes.peak;
  whole.close();
  const { pool, close } = replayTo(trace, options, at);
  const snapshot = pool.snapshot();
  const breakdown: PeakBreakdown = {
    event: at,
    reserved: snapshot.stats.reservedBytes.current,
    peakReserved,
    laterGrowth: peakReserved - snapshot.stats.reservedBytes.current,
    requested: 0,
    rounding: 0,
    freeSmall: 0,
    freeLarge: 0,
    pending: 0,
    freeByStream: {},
    largestFree: 0,
  };
  for (const segment of snapshot.segments) {
    for (const block of segment.blocks) {
      if (block.state === "allocated") {
        breakdown.requested += block.requested;
        breakdown.rounding += block.size - block.requested;
      } else if (block.state === "pending") breakdown.pending += block.size;
      else if (block.state === "cached") {
        if (segment.small) breakdown.freeSmall += block.size;
        else breakdown.freeLarge += block.size;
        breakdown.freeByStream[segment.stream] = (breakdown.freeByStream[segment.stream] ?? 0) +
          block.size;
        breakdown.largestFree = Math.max(breakdown.largestFree, block.size);
      }
    }
  }
  close();
  return breakdown;
}
