/**
 * Free blocks of one stream and one size class, found by best fit without a linear scan: a bin
 * (a stack) per distinct size, and the sizes whose bins hold blocks in a sorted array searched by
 * bisection, so the best fit is the first size at or above the request. A bin that empties leaves
 * the sorted array (one splice) but stays in the map, so a hot size costs no new allocation.
 *
 * @module
 */

import type { Block } from "./block.ts";

/** Best-fit index of free blocks. */
export class FreeIndex {
  readonly #bins = new Map<number, Block[]>();
  /** Sizes whose bins are not empty, ascending. */
  readonly #sizes: number[] = [];
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
    return this.#sizes.length === 0 ? 0 : this.#sizes[this.#sizes.length - 1];
  }

  /** Adds a free block. */
  insert(block: Block): void {
    let bin = this.#bins.get(block.size);
    if (bin === undefined) {
      bin = [];
      this.#bins.set(block.size, bin);
    }
    if (bin.length === 0) this.#sizes.splice(this.#lowerBound(block.size), 0, block.size);
    block.binSlot = bin.length;
    bin.push(block);
    this.#bytes += block.size;
    this.#count++;
  }

  /** Removes and returns the smallest block of at least `size` bytes, or null. */
  takeBestFit(size: number): Block | null {
    let bin = this.#bins.get(size);
    if (bin === undefined || bin.length === 0) {
      const at = this.#lowerBound(size);
      if (at === this.#sizes.length) return null;
      bin = this.#bins.get(this.#sizes[at])!;
    }
    const block = bin.pop()!;
    this.#forget(block, bin);
    return block;
  }

  /** Removes a block known to be in the index (a neighbour being merged). */
  remove(block: Block): void {
    const bin = this.#bins.get(block.size)!;
    const last = bin.pop()!;
    if (last !== block) {
      bin[block.binSlot] = last;
      last.binSlot = block.binSlot;
    }
    this.#forget(block, bin);
  }

  /** Drops the map entries of empty bins (memory only; searches never see them). */
  prune(): void {
    for (const [size, bin] of this.#bins) if (bin.length === 0) this.#bins.delete(size);
  }

  /** Every block in the index (for trimming and reports). */
  *blocks(): IterableIterator<Block> {
    for (const size of this.#sizes) yield* this.#bins.get(size)!;
  }

  #forget(block: Block, bin: Block[]): void {
    block.binSlot = -1;
    this.#bytes -= block.size;
    this.#count--;
    if (bin.length === 0) this.#sizes.splice(this.#lowerBound(block.size), 1);
  }

  /** First index in #sizes whose size is ≥ `size`. */
  #lowerBound(size: number): number {
    let low = 0;
    let high = this.#sizes.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#sizes[middle] < size) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
