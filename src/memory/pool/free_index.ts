/**
 * Free blocks of one stream and one size class, found by best fit without a linear scan: a bin
 * (a stack) per distinct size, the bins in one array sorted by size and searched by bisection,
 * so the best fit is the first non-empty bin at or above the request. A bin that empties stays
 * where it is (a hot size costs no splice, no new bin), and empty bins are compacted away once
 * they outnumber the others, so a search skips few of them. Workloads of many distinct large
 * sizes (graphs, varying shapes) then pay one splice per new size and no map lookups.
 *
 * @module
 */

import type { Block } from "./block.ts";

/** The blocks of one size. */
interface Bin {
  readonly size: number;
  readonly blocks: Block[];
}

/** Empty bins are compacted away when there are more than this many and more than full ones. */
const COMPACT_EMPTY = 32;

/** Best-fit index of free blocks. */
export class FreeIndex {
  /** Bins by ascending size; some may be empty. */
  #bins: Bin[] = [];
  #empty = 0;
  /** The bin looked up last (a loop of one size skips the search). */
  #last: Bin | null = null;
  #bytes = 0;
  #count = 0;

  /** Bytes in the index. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Blocks in the index. */
  get count(): number {
    return this.#count;
  }

  /** The largest block's size (0 when empty). */
  get largest(): number {
    const bins = this.#bins;
    for (let i = bins.length - 1; i >= 0; i--) if (bins[i].blocks.length > 0) return bins[i].size;
    return 0;
  }

  /** Adds a free block. */
  insert(block: Block): void {
    const size = block.size;
    let bin = this.#last;
    if (bin === null || bin.size !== size) {
      const at = this.#lowerBound(size);
      bin = this.#bins[at];
      if (bin === undefined || bin.size !== size) {
        bin = { size, blocks: [] };
        this.#bins.splice(at, 0, bin);
        this.#empty++; // counted as filled just below
      }
      this.#last = bin;
    }
    if (bin.blocks.length === 0) this.#empty--;
    block.binSlot = bin.blocks.length;
    bin.blocks.push(block);
    this.#bytes += size;
    this.#count++;
  }

  /** Removes and returns the smallest block of at least `size` bytes, or null. */
  takeBestFit(size: number): Block | null {
    let bin = this.#last;
    if (bin === null || bin.size !== size || bin.blocks.length === 0) {
      const bins = this.#bins;
      let at = this.#lowerBound(size);
      while (at < bins.length && bins[at].blocks.length === 0) at++;
      if (at === bins.length) return null;
      bin = bins[at];
    }
    const block = bin.blocks.pop()!;
    this.#forget(block, bin);
    return block;
  }

  /** Removes a block known to be in the index (a neighbour being merged). */
  remove(block: Block): void {
    let bin = this.#last;
    if (bin === null || bin.size !== block.size) {
      bin = this.#bins[this.#lowerBound(block.size)];
      this.#last = bin;
    }
    const blocks = bin.blocks;
    const last = blocks.pop()!;
    if (last !== block) {
      blocks[block.binSlot] = last;
      last.binSlot = block.binSlot;
    }
    this.#forget(block, bin);
  }

  /** Drops empty bins (memory only; searches skip them anyway). */
  prune(): void {
    if (this.#empty === 0) return;
    this.#bins = this.#bins.filter((bin) => bin.blocks.length > 0);
    this.#empty = 0;
    this.#last = null;
  }

  /**
   * Calls `visit` with every block in the index (for reclaiming, trimming and reports; plain
   * loops, as the slow paths call it often).
   */
  forEachBlock(visit: (block: Block) => void): void {
    const bins = this.#bins;
    for (let i = 0; i < bins.length; i++) {
      const blocks = bins[i].blocks;
      for (let j = 0; j < blocks.length; j++) visit(blocks[j]);
    }
  }

  #forget(block: Block, bin: Bin): void {
    block.binSlot = -1;
    this.#bytes -= block.size;
    this.#count--;
    if (bin.blocks.length > 0) return;
    this.#empty++;
    if (this.#empty > COMPACT_EMPTY && this.#empty > this.#bins.length - this.#empty) this.prune();
  }

  /** First index in the bins whose size is ≥ `size`. */
  #lowerBound(size: number): number {
    const bins = this.#bins;
    let low = 0;
    let high = bins.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (bins[middle].size < size) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
