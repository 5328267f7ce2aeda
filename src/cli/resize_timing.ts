/**
 * Timing a ResizableBuffer's growth, shared by bench/resize_bench.ts and `make demo`: one
 * growth from `from` to `to` bytes, the device synchronized before the clock stops (a device
 * copy returns before it is done).
 *
 * @module
 */

import { ResizableBuffer, type ResizeStrategy } from "../buffers/resizable_buffer.ts";
import type { MemoryPool } from "../memory/pool/memory_pool.ts";
import { median } from "./table.ts";

/** What one growth cost. */
export interface GrowthTiming {
  /** Milliseconds for the growth (median of the rounds). */
  ms: number;
  /** Milliseconds per GiB added. */
  msPerGiBAdded: number;
  /** Bytes the growth moved (the old length under "copy", 0 under "vmm"). */
  bytesMoved: number;
}

/**
 * Times `rounds` growths of a `strategy` buffer from `from` to `to` bytes in `pool`. With
 * `warm`, the pool caches a block of `to` bytes first, so a copy growth costs the copy alone.
 */
export function timeGrowth(
  pool: MemoryPool,
  strategy: ResizeStrategy,
  from: number,
  to: number,
  options: { rounds?: number; warm?: boolean } = {},
): GrowthTiming {
  const { rounds = 3, warm = false } = options;
  const device = pool.device;
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    pool.freeCache();
    using buffer = ResizableBuffer.create(from, {
      pool,
      strategy,
      maxBytes: Math.max(to, 2 * from),
      label: `timing.${strategy}`,
    });
    // Cached after the buffer took its block, so that the growth finds it.
    if (warm) pool.deallocateBlock(pool.allocateBlock(to));
    device.synchronize();
    const start = performance.now();
    buffer.reserve(to);
    device.synchronize();
    samples.push(performance.now() - start);
  }
  pool.freeCache();
  const ms = median(samples);
  return {
    ms,
    msPerGiBAdded: ms / ((to - from) / 2 ** 30),
    bytesMoved: strategy === "copy" ? from : 0,
  };
}
