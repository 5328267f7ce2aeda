/**
 * Free blocks of one stream and one size class, found by best fit without a linear scan: a bin
 * (a stack) per distinct size, and the distinct sizes in a sorted array searched by bisection.
 * A request of a size seen before is one Map lookup and one pop. Bins that empty stay (so a hot
 * size never churns the sorted array) until prune() drops them.
 *
 * @module
 */

import type { Block } from "./block.ts";

/** Best-fit index of free blocks. */
export class FreeIndex {
  readonly #bins = new Map<number, Block[]>();
  /** Sizes that have a bin (possibly empty), ascending. */
  #sizes: number[] = [];
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
    for (let i = this.#sizes.length - 1; i >= 0; i--) {
      if (this.#bins.get(this.#sizes[i])!.length > 0) return this.#sizes[i];
    }
    return 0;
  }

  /** Adds a free block. */
  insert(block: Block): void {
    let bin = this.#bins.get(block.size);
    if (bin === undefined) {
      bin = [];
      this.#bins.set(block.size, bin);
      this.#sizes.splice(this.#lowerBound(block.size), 0, block.size);
    }
    block.binSlot = bin.length;
    bin.push(block);
    this.#bytes += block.size;
    this.#count++;
  }

  /** Removes and returns the smallest block of at least `size` bytes, or null. */
  takeBestFit(size: number): Block | null {
    let bin = this.#bins.get(size);
    if (bin === undefined || bin.length === 0) {
      bin = undefined;
      for (let at = this.#lowerBound(size); at < this.#sizes.length; at++) {
        const candidate = this.#bins.get(this.#sizes[at])!;
        if (candidate.length > 0) {
          bin = candidate;
          break;
        }
      }
      if (bin === undefined) return null;
    }
    const block = bin.pop()!;
    this.#forget(block);
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
    this.#forget(block);
  }

  /** Drops empty bins, so best-fit searches skip no dead sizes. */
  prune(): void {
    this.#sizes = this.#sizes.filter((size) => {
      if (this.#bins.get(size)!.length > 0) return true;
      this.#bins.delete(size);
      return false;
    });
  }

  /** Every block in the index (for trimming and reports). */
  *blocks(): IterableIterator<Block> {
    for (const size of this.#sizes) yield* this.#bins.get(size)!;
  }

  #forget(block: Block): void {
    block.binSlot = -1;
    this.#bytes -= block.size;
    this.#count--;
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
