/**
 * Where a pool's segments come from: one interface, two implementations, as RMM keeps its pool
 * apart from its upstream. FixedSegments takes whole segments from any resource (PyTorch's
 * default policy); ExpandableSegments reserves address ranges and maps memory into them as
 * requests need it (expandable segments). The pool calls them on its slow paths only (a miss
 * that must grow, trim, close), through a SegmentHost of the pool's own bookkeeping.
 *
 * @module
 */

import type { Stream } from "../../cuda/stream.ts";
import type { MemoryDevice } from "../../device/types.ts";
import type { Block, Segment } from "./block.ts";
import type { StreamFreeLists } from "./stream_free_lists.ts";

/** What a segment source may do to its pool. */
export interface SegmentHost {
  /** The pool's device. */
  readonly device: MemoryDevice;
  /** The pool's segments. */
  readonly segments: ReadonlySet<Segment>;
  /** A stream's free lists (created on first use). */
  listsFor(key: Stream | null): StreamFreeLists;
  /** Why `bytes` more would be refused by the limit, or undefined. */
  overLimit(bytes: number): string | undefined;
  /** The pool's reserved bytes now. */
  reservedBytes(): number;
  /** Joins a segment to the pool. */
  adopt(segment: Segment): void;
  /** Takes a segment out of the pool. */
  drop(segment: Segment): void;
  /** Merges a free block with its free neighbours and files it; returns the merged block. */
  cache(block: Block): Block;
  /** Counts one call to the upstream. */
  upstreamCall(): void;
  /** Counts `bytes` of memory taken from the upstream at `address`, in `pieces` (default 1). */
  took(bytes: number, address: bigint, pieces?: number): void;
  /** Counts `bytes` given back from `address` (one piece fewer). */
  gave(bytes: number, address: bigint): void;
}

/** A pool's supply of segments. */
export interface SegmentSource {
  /**
   * New memory for a request of `size` on stream `key`: a free block at least that big (the
   * pool splits it), or why the limit refused. The upstream's OutOfMemoryError propagates.
   */
  grow(size: number, small: boolean, key: Stream | null): Block | string;
  /** Gives unused memory back, largest first, until at most `bytesToKeep` stay reserved. */
  trim(bytesToKeep: number): void;
  /** Gives back what trim keeps (reserved address ranges); the pool then closes. */
  close(): void;
}
