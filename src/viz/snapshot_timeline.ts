/**
 * A gpumem snapshot as the viewer's timeline. Its event log began some time into the run, so
 * what was already there is put in front of it: the mapped ranges and reserved bytes the pools
 * held when the log started (the snapshot's, with the log's reservations undone), and the blocks
 * live through the whole log. Without a log, the timeline is the moment the snapshot was taken.
 *
 * @module
 */

import type { MemorySnapshot, PoolSnapshot } from "../snapshot/snapshot_format.ts";
import { EventOp, type Timeline } from "../tracking/event_log.ts";

/** An empty timeline with the given names. */
function emptyTimeline(source: Timeline | null): Timeline {
  return {
    op: [],
    id: [],
    size: [],
    stream: [],
    address: [],
    label: [],
    site: [],
    time: source?.time === null || source === null ? null : [],
    labels: [...(source?.labels ?? [])],
    sites: [...(source?.sites ?? [])],
    pools: [...(source?.pools ?? [])],
    dropped: source?.dropped ?? 0,
  };
}

function intern(list: string[], name: string): number {
  const at = list.indexOf(name);
  return at >= 0 ? at : list.push(name) - 1;
}

/** Mapped address ranges as sorted, disjoint [start, end) pairs. */
class Ranges {
  list: [number, number][] = [];
  add(start: number, end: number): void {
    this.list.push([start, end]);
    this.list.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const range of this.list) {
      const last = merged[merged.length - 1];
      if (last !== undefined && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
      else merged.push([...range]);
    }
    this.list = merged;
  }
  remove(start: number, end: number): void {
    const kept: [number, number][] = [];
    for (const [s, t] of this.list) {
      if (t <= start || s >= end) kept.push([s, t]);
      else {
        if (s < start) kept.push([s, start]);
        if (t > end) kept.push([end, t]);
      }
    }
    this.list = kept;
  }
  get bytes(): number {
    return this.list.reduce((sum, [s, t]) => sum + t - s, 0);
  }
}

/** The ranges of `pool` with memory under them at the snapshot. */
function mappedRanges(pool: PoolSnapshot): Ranges {
  const ranges = new Ranges();
  for (const segment of pool.segments) {
    const base = Number(BigInt(segment.address));
    for (const block of segment.blocks) {
      if (block.state !== "unmapped") {
        ranges.add(base + block.offset, base + block.offset + block.size);
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
  const t = emptyTimeline(log);
  const push = (op: number, id: number, size: number, address: number, label = -1, site = -1) => {
    t.op.push(op);
    t.id.push(id);
    t.size.push(size);
    t.stream.push(0);
    t.address.push(address);
    t.label.push(label);
    t.site.push(site);
    t.time?.push(log?.time?.[0] ?? 0);
  };
  // The pools as they were when the log started: undo its reservations, newest first.
  for (const pool of [...snapshot.pools, ...snapshot.pinnedPools]) {
    const index = intern(t.pools, pool.name);
    const ranges = mappedRanges(pool);
    let reserved = pool.stats.reservedBytes.current;
    if (log !== null) {
      for (let i = log.op.length - 1; i >= 0; i--) {
        const op = log.op[i];
        if (
          (op !== EventOp.reserve && op !== EventOp.release) || log.pools[log.id[i]] !== pool.name
        ) {
          continue;
        }
        const start = log.address[i], end = start + log.size[i];
        if (op === EventOp.reserve) {
          reserved -= log.size[i];
          if (start !== 0) ranges.remove(start, end);
        } else {
          reserved += log.size[i];
          if (start !== 0) ranges.add(start, end);
        }
      }
    }
    for (const [start, end] of ranges.list) push(EventOp.reserve, index, end - start, start);
    const unplaced = reserved - ranges.bytes; // mapped without an address logged (growable buffers)
    if (unplaced > 0) push(EventOp.reserve, index, unplaced, 0);
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
    push(
      EventOp.allocate,
      id--,
      block.requested || block.size,
      block.address,
      intern(t.labels, block.label ?? "(unlabelled)"),
      block.site === undefined ? -1 : intern(t.sites, block.site),
    );
  }
  if (log === null) return t;
  // Then the log itself; its pool indices follow the names.
  for (let i = 0; i < log.op.length; i++) {
    const op = log.op[i];
    const pool = op >= EventOp.reserve ? intern(t.pools, log.pools[log.id[i]]) : log.id[i];
    t.op.push(op);
    t.id.push(pool);
    t.size.push(log.size[i]);
    t.stream.push(log.stream[i]);
    t.address.push(log.address[i]);
    t.label.push(log.label[i]);
    t.site.push(log.site[i]);
    t.time?.push(log.time![i]);
  }
  return t;
}
