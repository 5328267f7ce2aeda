/**
 * Carving a pool's segments: where a growable segment maps memory for a request, and the block
 * list surgery (cut, absorb) the pool's split and merge steps use. Pure functions over blocks.
 *
 * @module
 */

import type { AddressSpaceResource } from "../address_space/address_space_resource.ts";
import { Block, type Segment } from "./block.ts";

/** Where a growing pool maps memory: a piece of an unmapped block. */
export interface Growth {
  unmapped: Block;
  offset: number;
  bytes: number;
}

/**
 * Where to map memory for a request of `size` in these growable segments: the unmapped piece
 * needing the least new memory, counting the free blocks it would merge with (mapped at its start
 * after a free block, at its end before one, or whole between two). Null when none has room.
 */
export function planGrowth(
  ranges: readonly Segment[],
  size: number,
  space: AddressSpaceResource,
): Growth | null {
  let best: Growth | null = null;
  const consider = (unmapped: Block, offset: number, bytes: number) => {
    if (bytes <= unmapped.size && (best === null || bytes < best.bytes)) {
      best = { unmapped, offset, bytes };
    }
  };
  for (const segment of ranges) {
    for (const unmapped of segment.unmapped!) {
      const before = freeSize(unmapped.prev);
      const after = freeSize(unmapped.next);
      consider(unmapped, unmapped.offset, space.roundUp(size - before));
      const atEnd = space.roundUp(size - after);
      consider(unmapped, unmapped.offset + unmapped.size - atEnd, atEnd);
      if (before + unmapped.size + after >= size) {
        consider(unmapped, unmapped.offset, unmapped.size);
      }
    }
  }
  return best;
}

/** Size of a neighbour that is free and filed (mergeable), else 0. */
export function freeSize(block: Block | null): number {
  return block !== null && block.binSlot >= 0 ? block.size : 0;
}

/** Whether a segment mapped whole is one free block. */
export function isUnused(segment: Segment): boolean {
  const first = segment.first;
  return segment.allocatedBlocks === 0 && first.next === null && first.binSlot >= 0;
}

/** Merges `block.next` into `block` (its address neighbour above), unlinking it. */
export function absorbNext(block: Block): void {
  const next = block.next!;
  block.size += next.size;
  block.next = next.next;
  if (next.next !== null) next.next.prev = block;
}

/** Cuts `block` after its first `size` bytes; returns the new block holding the rest (unfiled). */
export function cutAfter(block: Block, size: number): Block {
  const rest = new Block(
    block.segment,
    block.address + BigInt(size),
    block.offset + size,
    block.size - size,
  );
  rest.prev = block;
  rest.next = block.next;
  if (block.next !== null) block.next.prev = rest;
  block.next = rest;
  block.size = size;
  return rest;
}
