/**
 * A gpumem snapshot as the viewer's timeline. Its event log began some time into the run, so
 * what was already there is put in front of it: the mapped ranges and reserved bytes the pools
 * held when the log started (the snapshot's, with the log's reservations undone), and the blocks
 * live through the whole log. Without a log, the timeline is the moment the snapshot was taken.
 *
 * @module
 */

import type { MemorySnapshot, PoolSnapshot } from "../snapshot/snapshot_format.ts";
import { EventOp, type Timeline, TimelineBuilder } from "../tracking/timeline.ts";
import { addRange, removeRange } from "./address_ranges.ts";

/** The ranges of `pool` with memory under them at the snapshot. */
function mappedRanges(pool: PoolSnapshot): number[][] {
  let ranges: number[][] = [];
  for (const segment of pool.segments) {
    const base = Number(BigInt(segment.address));
    for (const block of segment.blocks) {
      if (block.state !== "unmapped") {
        ranges = addRange(ranges, base + block.offset, base + block.offset + block.size);
      }
    }
  }
  return ranges;
}

/** Allocated blocks of the snapshot's pools, with their absolute addresses. */
function allocatedBlocks(snapshot: MemorySnapshot) {
  return [...snapshot.pools, ...snapshot.pinnedPools].flatMap((pool) =>
    pool.segments.flatMap((segment) =>
      segment.blocks.filter((block) => block.state === "allocated").map((block) => ({
        ...block,
        address: Number(BigInt(segment.address)) + block.offset,
      }))
    )
  );
}

/**
 * The snapshot's timeline with what was there before its log began in front (see the module
 * doc); the moment it was taken when it has no log.
 */
export function snapshotTimeline(snapshot: MemorySnapshot): Timeline {
  const log = snapshot.timeline;
  const t = new TimelineBuilder(log !== null && log.time !== null, log ?? {}, log?.dropped ?? 0);
  const start = log?.time?.[0] ?? 0;
  // The pools as they were when the log started: undo its reservations, newest first.
  for (const pool of [...snapshot.pools, ...snapshot.pinnedPools]) {
    const index = t.pools.indexOf(pool.name);
    let ranges = mappedRanges(pool);
    let reserved = pool.stats.reservedBytes.current;
    if (log !== null) {
      for (let i = log.op.length - 1; i >= 0; i--) {
        const op = log.op[i];
        if (
          (op !== EventOp.reserve && op !== EventOp.release) || log.pools[log.id[i]] !== pool.name
        ) {
          continue;
        }
        const from = log.address[i], to = from + log.size[i];
        if (op === EventOp.reserve) {
          reserved -= log.size[i];
          if (from !== 0) ranges = removeRange(ranges, from, to);
        } else {
          reserved += log.size[i];
          if (from !== 0) ranges = addRange(ranges, from, to);
        }
      }
    }
    for (const [from, to] of ranges) {
      t.push({ op: EventOp.reserve, id: index, size: to - from, address: from, time: start });
    }
    const placed = ranges.reduce((sum, [from, to]) => sum + to - from, 0);
    const unplaced = reserved - placed; // mapped without an address logged (growable buffers)
    if (unplaced > 0) t.push({ op: EventOp.reserve, id: index, size: unplaced, time: start });
  }
  // Blocks live through the whole log: allocated at the snapshot, but not by the log.
  const loggedLive = new Set<number>();
  if (log !== null) {
    const addressOf = new Map<number, number>();
    for (let i = 0; i < log.op.length; i++) {
      if (log.op[i] === EventOp.allocate) addressOf.set(log.id[i], log.address[i]);
      else if (log.op[i] === EventOp.free) addressOf.delete(log.id[i]);
    }
    for (const address of addressOf.values()) loggedLive.add(address);
  }
  let id = -1; // ids the log never gives
  for (const block of allocatedBlocks(snapshot)) {
    if (loggedLive.has(block.address)) continue;
    t.push({
      op: EventOp.allocate,
      id: id--,
      size: block.requested || block.size,
      address: block.address,
      label: t.labels.indexOf(block.label ?? "(unlabelled)"),
      site: t.sites.indexOf(block.site),
      time: start,
    });
  }
  if (log === null) return t.finish();
  // Then the log itself; its pool indices follow the names.
  for (let i = 0; i < log.op.length; i++) t.copy(log, i);
  return t.finish();
}
