/**
 * A pool's free lists: one StreamFreeLists per stream (made on first use; the last one looked up
 * is cached, as a loop allocates on one stream), and what is done to all of them at once.
 *
 * @module
 */

import type { Stream } from "../../cuda/stream.ts";
import type { Block } from "./block.ts";
import { StreamFreeLists } from "./stream_free_lists.ts";

/** Every stream's free lists of one pool. */
export class PoolFreeLists {
  /** The lists by stream (null: the legacy default stream). */
  readonly byStream: Map<Stream | null, StreamFreeLists> = new Map();
  #lastKey: Stream | null = null;
  #lastLists: StreamFreeLists | null = null;

  /** The free lists of `key`'s stream. */
  of(key: Stream | null): StreamFreeLists {
    if (key === this.#lastKey && this.#lastLists !== null) return this.#lastLists;
    let lists = this.byStream.get(key);
    if (lists === undefined) {
      lists = new StreamFreeLists();
      this.byStream.set(key, lists);
    }
    this.#lastKey = key;
    this.#lastLists = lists;
    return lists;
  }

  /** Files a freed block in its stream's quick list when there is room, else merges it in. */
  keep(block: Block): void {
    this.of(block.segment.stream).keep(block);
  }

  /** Merges a free block with its free neighbours under its stream; the merged block. */
  file(block: Block): Block {
    return this.of(block.segment.stream).file(block);
  }

  /** Merges every quick-listed block back; returns how many there were. */
  flushQuick(): number {
    let flushed = 0;
    for (const lists of this.byStream.values()) flushed += lists.flushQuick();
    return flushed;
  }

  /** Drops emptied bookkeeping in every stream's lists (after a flush). */
  prune(): void {
    for (const lists of this.byStream.values()) lists.prune();
  }

  /** Every stream's lists. */
  all(): IterableIterator<StreamFreeLists> {
    return this.byStream.values();
  }

  /** Closes what the lists hold open (their streams' epoch marks). */
  close(): void {
    for (const lists of this.byStream.values()) lists.epochs.close();
  }
}
