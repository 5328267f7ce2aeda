/**
 * Expandable segments (see segment_source.ts): each stream reserves one large address range
 * (the pool asks for the large class alone here) and maps memory into it only where a request
 * needs it, next to free space it then merges with; trim unmaps whole mapped pieces lying in
 * free space, and the ranges themselves go back at close. Free space so never stays split
 * across segments.
 *
 * @module
 */

import { type Stream, streamSynchronize } from "../../cuda/stream.ts";
import type { AddressSpaceResource } from "../address_space/address_space_resource.ts";
import { type Block, Segment, UNMAPPED } from "./block.ts";
import { absorbNext, cutAfter, type Growth, planGrowth } from "./segment_carving.ts";
import type { SegmentHost, SegmentSource } from "./segment_source.ts";

/** Ranges of `space` that grow in place. */
export class ExpandableSegments implements SegmentSource {
  readonly #space: AddressSpaceResource;
  readonly #host: SegmentHost;

  /** Ranges reserved from `space`, counted in `host`. */
  constructor(space: AddressSpaceResource, host: SegmentHost) {
    this.#space = space;
    this.#host = host;
  }

  /**
   * Maps memory for a request of `size` into a range of the stream, where the least new memory
   * serves it (next to free space it merges with); reserves a new range only when none has room.
   */
  grow(size: number, small: boolean, key: Stream | null): Block | string {
    const host = this.#host, space = this.#space;
    const lists = host.listsFor(key);
    const ranges = small ? lists.smallRanges : lists.largeRanges;
    let growth = planGrowth(ranges, size, space);
    const bytes = growth?.bytes ?? space.roundUp(size);
    const refused = host.overLimit(bytes);
    if (refused !== undefined) return refused;
    if (growth === null) {
      host.upstreamCall();
      const rangeBytes = Math.max(space.defaultRangeBytes, bytes);
      const segment = new Segment(space.reserve(rangeBytes), rangeBytes, key, small, true);
      host.adopt(segment);
      ranges.push(segment);
      growth = { unmapped: segment.first, offset: 0, bytes };
    }
    const segment = growth.unmapped.segment;
    const address = segment.address + BigInt(growth.offset);
    host.upstreamCall();
    space.map(address, growth.bytes);
    host.took(growth.bytes, address);
    const block = host.cache(this.#carveMapped(growth));
    (small ? lists.small : lists.large).remove(block);
    return block;
  }

  /** Unmaps the largest mapped pieces lying in free space until `bytesToKeep` stay mapped. */
  trim(bytesToKeep: number): void {
    const host = this.#host, space = this.#space;
    const pieces: { block: Block; address: bigint; bytes: number }[] = [];
    for (const segment of host.segments) {
      for (let block: Block | null = segment.first; block !== null; block = block.next) {
        if (block.binSlot < 0) continue;
        for (const piece of space.mappingsWithin(block.address, block.size)) {
          pieces.push({ block, ...piece });
        }
      }
    }
    pieces.sort((a, b) => b.bytes - a.bytes);
    let keep = host.reservedBytes();
    const chosen = pieces.filter((piece) => {
      if (keep <= bytesToKeep) return false;
      keep -= piece.bytes;
      return true;
    }).sort((a, b) => (a.address < b.address ? -1 : 1));
    // Unmapping does not wait for work still queued on the memory (unlike cuMemFree), and a
    // block freed on its stream may still be in use there: wait for those streams first, as
    // PyTorch does before unmapping an expandable segment.
    const streams = new Set(chosen.map((piece) => piece.block.segment.stream));
    for (const stream of streams) streamSynchronize(stream, host.device);
    // In address order, so each piece lies in the free block left after the one before it.
    let rest: Block | null = null;
    for (const { block, address, bytes } of chosen) {
      const holder: Block = rest !== null && rest.segment === block.segment &&
          rest.address <= address && address < rest.address + BigInt(rest.size)
        ? rest
        : block;
      rest = this.#unmapPiece(holder, address, bytes);
    }
  }

  /** Gives back every range (nothing is mapped in them after trim(0)). */
  close(): void {
    const host = this.#host;
    for (const segment of [...host.segments]) {
      const lists = host.listsFor(segment.stream);
      const ranges = segment.small ? lists.smallRanges : lists.largeRanges;
      ranges.splice(ranges.indexOf(segment), 1);
      host.drop(segment);
      host.upstreamCall();
      this.#space.release(segment.address, segment.size);
    }
  }

  /** Splits the newly mapped piece out of its unmapped block; returns it (free, unfiled). */
  #carveMapped({ unmapped, offset, bytes }: Growth): Block {
    const unmappedPieces = unmapped.segment.unmapped!;
    const end = offset + bytes;
    if (end < unmapped.offset + unmapped.size) {
      const tail = cutAfter(unmapped, end - unmapped.offset);
      tail.binSlot = UNMAPPED;
      unmappedPieces.add(tail);
    }
    if (offset === unmapped.offset) {
      unmappedPieces.delete(unmapped);
      unmapped.binSlot = -1;
      return unmapped;
    }
    return cutAfter(unmapped, offset - unmapped.offset);
  }

  /**
   * Unmaps the piece at `address` lying in free block `holder`; `holder` becomes up to three
   * blocks (free, unmapped, free). Returns the free block after the piece, if any.
   */
  #unmapPiece(holder: Block, address: bigint, bytes: number): Block | null {
    const host = this.#host;
    const segment = holder.segment;
    const lists = host.listsFor(segment.stream);
    const index = segment.small ? lists.small : lists.large;
    host.upstreamCall();
    this.#space.unmap(address, bytes);
    host.gave(bytes, address);
    index.remove(holder);
    const offset = Number(address - segment.address);
    let piece = holder;
    if (offset > holder.offset) {
      piece = cutAfter(holder, offset - holder.offset);
      index.insert(holder);
    }
    let rest: Block | null = null;
    if (piece.size > bytes) {
      rest = cutAfter(piece, bytes);
      index.insert(rest);
    }
    piece.binSlot = UNMAPPED;
    this.#mergeUnmapped(piece);
    return rest;
  }

  /** Files an unmapped piece, merged with unmapped neighbours. */
  #mergeUnmapped(piece: Block): void {
    const unmapped = piece.segment.unmapped!;
    const next = piece.next;
    if (next !== null && next.binSlot === UNMAPPED) {
      unmapped.delete(next);
      absorbNext(piece);
    }
    const prev = piece.prev;
    if (prev !== null && prev.binSlot === UNMAPPED) {
      absorbNext(prev);
      return;
    }
    unmapped.add(piece);
  }
}
