/**
 * The pool's side of SegmentHost (segment_source.ts): the bookkeeping its segment source does on
 * the slow paths (segments joining and leaving, memory taken and given back, each in the
 * pool's counters and, when one runs, the tracker's event log).
 *
 * @module
 */

import type { MemoryDevice } from "../../device/types.ts";
import { activeTracker } from "../../tracking/active_tracker.ts";
import { EventOp } from "../../tracking/timeline.ts";
import type { Segment } from "./block.ts";
import type { PoolFreeLists } from "./pool_free_lists.ts";
import type { PoolLimit } from "./pool_limit.ts";
import type { PoolTally } from "./pool_tally.ts";
import type { SegmentHost } from "./segment_source.ts";

/** The parts of a pool its segment source reaches. */
export interface PoolParts {
  /** The pool itself (its segments' owner) and its name in the event log. */
  readonly pool: { readonly name: string };
  readonly device: MemoryDevice;
  readonly segments: Set<Segment>;
  readonly lists: PoolFreeLists;
  readonly tally: PoolTally;
  readonly limit: PoolLimit;
}

/** Puts one of pool `name`'s own events in the active tracker's event log, when one runs. */
export function logPoolEvent(name: string, op: number, bytes: number, address: bigint): void {
  activeTracker()?.logPoolEvent(op, name, bytes, address);
}

/** The SegmentHost over `parts`. */
export function poolSegmentHost(parts: PoolParts): SegmentHost {
  const { pool, segments, lists, tally, limit } = parts;
  return {
    device: parts.device,
    segments,
    listsFor: (key) => lists.of(key),
    overLimit: (bytes) => limit.refusal(bytes),
    reservedBytes: () => tally.reserved.current,
    adopt: (segment) => {
      segments.add(segment);
      segment.pool = pool;
    },
    drop: (segment) => {
      segments.delete(segment);
      segment.pool = null;
    },
    cache: (block) => lists.file(block),
    upstreamCall: () => void tally.upstreamCalls++,
    took: (bytes, address, pieces = 1) => {
      tally.reserved.add(bytes);
      tally.segments.add(pieces);
      logPoolEvent(pool.name, EventOp.reserve, bytes, address);
    },
    gave: (bytes, address) => {
      tally.reserved.sub(bytes);
      tally.segments.sub(1);
      logPoolEvent(pool.name, EventOp.release, bytes, address);
    },
  };
}
