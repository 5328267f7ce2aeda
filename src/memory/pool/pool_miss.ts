/**
 * A pool's miss path: what it does when no cached block of a stream fits a request. First the
 * cheap ways (merge pending and quick-listed blocks, look again; borrow an idle stream's free
 * block), then new memory from the segment source, retried once after the cache is freed, and
 * last, when even that is refused, a busy stream's free block, ordered after that stream's work
 * (an event wait: the host never blocks) rather than fail.
 *
 * @module
 */

import type { Stream } from "../../cuda/stream.ts";
import type { MemoryDevice } from "../../device/types.ts";
import { OutOfMemoryError } from "../../errors.ts";
import type { Block } from "./block.ts";
import { borrowFrom } from "./pending_reuse.ts";
import type { PoolFreeLists } from "./pool_free_lists.ts";
import type { PoolTally } from "./pool_tally.ts";
import type { SegmentSource } from "./segment_source.ts";

/** What the miss path uses of its pool. */
export interface MissHost {
  readonly device: MemoryDevice;
  readonly tally: PoolTally;
  readonly lists: PoolFreeLists;
  readonly segments: SegmentSource;
  /** Files pending blocks whose events have completed; returns how many. */
  collectPending(): number;
  /** Gives every unused segment back. */
  freeCache(): void;
  /** The pool's OutOfMemoryError for a request of `size`, refused because of `failure`. */
  outOfMemory(size: number, failure: unknown): OutOfMemoryError;
}

/** A block of at least `size` bytes for stream `key` when none is cached (see the module). */
export function serveMiss(host: MissHost, size: number, small: boolean, key: Stream | null): Block {
  if (host.lists.flushQuick() + host.collectPending() > 0) {
    const block = host.lists.of(key)[small ? "small" : "large"].takeBestFit(size);
    if (block !== null) return block;
  }
  const idle = borrow(host, size, small, key, false);
  if (idle !== null) return idle;
  try {
    return grow(host, size, small, key);
  } catch (error) {
    if (!(error instanceof OutOfMemoryError)) throw error;
    const busy = borrow(host, size, small, key, true);
    if (busy === null) throw error;
    return busy;
  }
}

/** A free block of another stream (see borrowFrom), counted as borrowed. */
function borrow(
  host: MissHost,
  size: number,
  small: boolean,
  key: Stream | null,
  wait: boolean,
): Block | null {
  const block = borrowFrom(host.lists.byStream, size, small, key, wait, host.device);
  if (block !== null) host.tally.borrowed++;
  return block;
}

/**
 * New memory from the segment source: the block, or, refused by the limit or out of memory,
 * once more after the cache is freed, and then the pool's OutOfMemoryError says why.
 */
function grow(host: MissHost, size: number, small: boolean, key: Stream | null): Block {
  let failure: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt === 1) host.freeCache();
    try {
      const grown = host.segments.grow(size, small, key);
      if (typeof grown !== "string") {
        host.tally.growths++;
        return grown;
      }
      failure = grown;
    } catch (error) {
      if (!(error instanceof OutOfMemoryError)) throw error;
      failure = error;
    }
  }
  throw host.outOfMemory(size, failure);
}
