/**
 * A pool's segments and blocks as snapshot data (see snapshot_format.ts): the walk over the
 * pool's own structures, and the join with the tracker's live allocations for sites and ages.
 *
 * @module
 */

import type { Stream } from "../../cuda/stream.ts";
import type { TrackedAllocation } from "../../tracking/tracker_node.ts";
import {
  type BlockSnapshot,
  type BlockState,
  hexAddress,
  type PoolSnapshot,
  type SegmentSnapshot,
} from "../../snapshot/snapshot_format.ts";
import type { PoolStats } from "./pool_stats.ts";
import { type Block, type Segment, UNMAPPED } from "./block.ts";

/** What the tracker knows of live allocations, by address (for sites, ages and ids). */
export type LiveByAddress = ReadonlyMap<bigint, TrackedAllocation>;

/** Indexes `live` by address (records without one are left out). */
export function liveByAddress(live: readonly TrackedAllocation[]): LiveByAddress {
  const map = new Map<bigint, TrackedAllocation>();
  for (const allocation of live) {
    if (allocation.address !== 0n) map.set(allocation.address, allocation);
  }
  return map;
}

/** The state of a block; `pending` says whether it waits on another stream's events. */
function stateOf(block: Block, pending: (block: Block) => boolean): BlockState {
  if (block.allocated) return "allocated";
  if (block.binSlot === UNMAPPED) return "unmapped";
  return pending(block) ? "pending" : "cached";
}

/**
 * The snapshot of `segments`: streams numbered in order of first sight (0 for the legacy default
 * stream), blocks joined with `live` by address, ages measured against `now`.
 */
export function snapshotSegments(
  segments: Iterable<Segment>,
  pending: (block: Block) => boolean,
  live: LiveByAddress,
  now: number,
): { segments: SegmentSnapshot[]; streams: number } {
  const streams = new Map<Stream | null, number>([[null, 0]]);
  const out: SegmentSnapshot[] = [];
  for (const segment of segments) {
    let stream = streams.get(segment.stream);
    if (stream === undefined) {
      stream = streams.size;
      streams.set(segment.stream, stream);
    }
    const blocks: BlockSnapshot[] = [];
    let unmapped = 0;
    for (let block: Block | null = segment.first; block !== null; block = block.next) {
      const state = stateOf(block, pending);
      if (state === "unmapped") unmapped += block.size;
      const entry: BlockSnapshot = {
        offset: block.offset,
        size: block.size,
        state,
        requested: block.allocated ? block.requested : 0,
      };
      if (block.allocated) {
        const tracked = live.get(block.address);
        const label = block.label ?? tracked?.label;
        if (label !== undefined) entry.label = label;
        if (tracked?.site !== undefined) entry.site = tracked.site;
        if (tracked !== undefined && !Number.isNaN(tracked.time)) entry.ageMs = now - tracked.time;
        if (tracked !== undefined) entry.id = tracked.id;
      }
      blocks.push(entry);
    }
    out.push({
      address: hexAddress(segment.address),
      size: segment.size,
      stream,
      small: segment.small,
      growable: segment.unmapped !== null,
      mappedBytes: segment.size - unmapped,
      blocks,
    });
  }
  return { segments: out, streams: streams.size };
}

/** The blocks of `segments` handed out now, largest first (for reports). */
export function liveBlocksOf(segments: Iterable<Segment>): Block[] {
  const live: Block[] = [];
  for (const segment of segments) {
    for (let block: Block | null = segment.first; block !== null; block = block.next) {
      if (block.allocated) live.push(block);
    }
  }
  return live.sort((a, b) => b.size - a.size);
}

/** What a pool's snapshot says of the pool itself. */
export interface SnapshotSubject {
  readonly name: string;
  readonly device: { readonly id: string };
  readonly upstream: { readonly name: string };
  readonly expandableSegments: boolean;
  readonly limit: number;
  pressure(): number;
  stats(): PoolStats;
}

/**
 * The snapshot of `pool` over its `segments`: a block is pending while it waits on events or
 * sits in no free list; `live` (the tracker's) gives allocated blocks their sites and ages.
 */
export function snapshotPool(
  pool: SnapshotSubject,
  segments: Iterable<Segment>,
  live: readonly TrackedAllocation[],
): PoolSnapshot {
  const stats = pool.stats();
  const walked = snapshotSegments(
    segments,
    (block) => block.pendingEvents !== null || block.binSlot === -1,
    liveByAddress(live),
    performance.now(),
  );
  return {
    name: pool.name,
    device: pool.device.id,
    upstream: pool.upstream.name,
    expandableSegments: pool.expandableSegments,
    limit: Number.isFinite(pool.limit) ? pool.limit : null,
    pressure: pool.pressure(),
    stats,
    streams: walked.streams,
    segments: walked.segments,
  };
}
