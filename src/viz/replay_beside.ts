/**
 * A recorded run with gpumem's pool beside it: the run's allocations and frees replayed through a
 * fresh MemoryPool (over a virtual upstream, segments growing in place), and the pool's reserved
 * bytes put into the timeline as a second pool's line, so a PyTorch snapshot shows PyTorch's
 * reserved bytes and gpumem's for the same requests on one chart.
 *
 * @module
 */

import type { Block } from "../memory/pool/block.ts";
import { MemoryPool } from "../memory/pool/memory_pool.ts";
import { hitRate } from "../memory/pool/pool_stats.ts";
import { VirtualResource } from "../memory/virtual_resource.ts";
import { formatBytes } from "../errors.ts";
import { EventOp, type Timeline, TimelineBuilder } from "../tracking/timeline.ts";
import type { Figure } from "./viewer_model.ts";

/** The pool name gpumem's replayed line is drawn under. */
export const REPLAY_POOL = "gpumem (replayed)";

/**
 * `timeline` with gpumem's replay of its allocations added (a reserve or release event after
 * each allocation or free that changed the pool's reserved bytes), and gpumem's figures.
 */
export function withGpumemReplay(timeline: Timeline): { timeline: Timeline; figures: Figure[] } {
  const t = new TimelineBuilder(timeline.time !== null, timeline, timeline.dropped);
  const poolIndex = t.pools.indexOf(REPLAY_POOL);
  const pool = new MemoryPool(new VirtualResource(), { name: REPLAY_POOL });
  const live = new Map<number, Block>();
  let reserved = 0;
  for (let i = 0; i < timeline.op.length; i++) {
    const op = timeline.op[i];
    t.copy(timeline, i);
    if (op === EventOp.allocate && timeline.size[i] > 0) {
      live.set(timeline.id[i], pool.allocateBlock(timeline.size[i]));
    } else if (op === EventOp.free) {
      const block = live.get(timeline.id[i]);
      if (block === undefined) continue;
      live.delete(timeline.id[i]);
      pool.deallocateBlock(block);
    } else continue;
    const now = pool.stats().reservedBytes.current;
    if (now !== reserved) {
      t.push({
        op: now > reserved ? EventOp.reserve : EventOp.release,
        id: poolIndex,
        size: Math.abs(now - reserved),
        time: timeline.time?.[i],
      });
      reserved = now;
    }
  }
  const stats = pool.stats();
  for (const block of live.values()) pool.deallocateBlock(block);
  pool.close();
  const peakLive = stats.allocatedBytes.peak; // blocks as gpumem rounds them, an upper bound
  const hits = hitRate(stats);
  return {
    timeline: t.finish(),
    figures: [
      ["gpumem replay: peak reserved", formatBytes(stats.reservedBytes.peak)],
      [
        "gpumem replay: peak reserved ÷ peak allocated",
        (stats.reservedBytes.peak / Math.max(1, peakLive)).toFixed(3),
      ],
      ["gpumem replay: hit rate", `${(100 * hits).toFixed(2)}%`],
    ],
  };
}
