/**
 * Expandable segments (see segment_source.ts): each stream reserves one large address range
 * (the pool asks for the large class alone here) and maps memory into it only where a request
 * needs it, next to free space it then merges with; trim unmaps whole mapped pieces lying in
 * free space, and the ranges themselves go back at close. Free space so never stays split
 * across segments.
 *
 * Growth never raises the pool's high-water mark while free memory could make room: before a
 * growth that would, the pool unmaps free pieces (the highest first, sparing the free blocks the
 * new memory merges with) whose stream's work is past them, which needs no wait (see
 * stream_epochs.ts). Each growth is mapped as at most 32 pieces, so that part of a large free
 * block can be unmapped while the rest stays in use. On the issue 18 corpus this takes peak
 * reserved ÷ peak live from 1.02–1.10 to ≤ 1.03 (bench/RESULTS.md).
 *
 * @module
 */

import { type Stream, streamSynchronize } from "../../cuda/stream.ts";
import type { AddressSpaceResource } from "../address_space/address_space_resource.ts";
import { type Block, Segment, UNMAPPED } from "./block.ts";
import type { StreamFreeLists } from "./stream_free_lists.ts";
import { absorbNext, cutAfter, type Growth, planGrowth } from "./segment_carving.ts";
import type { SegmentHost, SegmentSource } from "./segment_source.ts";

/** A growth is mapped as at most this many pieces (each unmaps alone; each is a driver call). */
const PIECES_PER_GROWTH = 32;
/**
 * A growth into a range's untouched end maps at least the smaller of these, as PyTorch maps
 * 20 MiB pages for large blocks: a run of new sizes (a model's parameters at start-up) then
 * costs one growth per step rather than one per block, and what is mapped ahead (at most 1% of
 * the pool at the peak) merges with the next growth. Corpus: ViT 98.85% → 99.07% hit rate.
 */
const AHEAD_BYTES = 20 * 2 ** 20;
const AHEAD_SHARE = 0.01;

/** A mapped piece lying in a free block. */
interface FreePiece {
  block: Block;
  address: bigint;
  bytes: number;
}

/** Ranges of `space` that grow in place. */
export class ExpandableSegments implements SegmentSource {
  readonly #space: AddressSpaceResource;
  readonly #host: SegmentHost;
  /** The most bytes the pool has had reserved: growth does not raise it while it can help it. */
  #highWater = 0;

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
    if (host.reservedBytes() + bytes > this.#highWater) {
      this.#reclaim(this.#highWater - bytes, growth);
    }
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
    const ahead = this.#aheadOf(growth);
    if (ahead > 0 && host.overLimit(bytes + ahead) === undefined) {
      growth = { ...growth, bytes: bytes + ahead };
    }
    const segment = growth.unmapped.segment;
    const address = segment.address + BigInt(growth.offset);
    const piece = Math.max(space.granularity, space.roundUp(growth.bytes / PIECES_PER_GROWTH));
    host.upstreamCall();
    space.map(address, growth.bytes, piece);
    host.took(growth.bytes, address, Math.ceil(growth.bytes / piece));
    this.#highWater = Math.max(this.#highWater, host.reservedBytes());
    const block = host.cache(this.#carveMapped(growth));
    (small ? lists.small : lists.large).remove(block);
    return block;
  }

  /** Bytes to map beyond `growth` when it starts a range's untouched end (see AHEAD_BYTES). */
  #aheadOf({ unmapped, offset, bytes }: Growth): number {
    if (unmapped.next !== null || offset !== unmapped.offset) return 0;
    const step = this.#space.roundUp(
      Math.min(AHEAD_BYTES, AHEAD_SHARE * this.#host.reservedBytes()),
    );
    return Math.max(0, Math.min(step, unmapped.size) - bytes);
  }

  /** Unmaps the largest mapped pieces lying in free space until `bytesToKeep` stay mapped. */
  trim(bytesToKeep: number): void {
    const chosen = this.#choose(
      this.#freePieces().sort((a, b) => b.bytes - a.bytes),
      bytesToKeep,
    );
    // Unmapping does not wait for work still queued on the memory (unlike cuMemFree), and a
    // block freed on its stream may still be in use there: wait for those streams first, as
    // PyTorch does before unmapping an expandable segment.
    const streams = new Set(chosen.map((piece) => piece.block.segment.stream));
    for (const stream of streams) streamSynchronize(stream, this.#host.device);
    this.#unmapAll(chosen);
  }

  /**
   * Before a growth: unmaps free pieces, the highest first, until `bytesToKeep` stay mapped,
   * sparing the free blocks `growth` merges with and any block its stream's queued work may
   * still touch (so nothing waits). Highest first keeps the low end of each range dense.
   */
  #reclaim(bytesToKeep: number, growth: Growth | null): void {
    const host = this.#host;
    let keep = host.reservedBytes();
    if (keep <= bytesToKeep) return;
    const spare = growth === null ? null : growth.unmapped;
    const settled = new Map<StreamFreeLists, number>();
    const pastItsWork = (block: Block) => {
      const stream = block.segment.stream;
      const lists = host.listsFor(stream);
      let epoch = settled.get(lists);
      if (epoch === undefined) {
        epoch = lists.epochs.settle(stream, host.device);
        settled.set(lists, epoch);
      }
      return block.filedAt <= epoch;
    };
    // The free blocks with a whole granule inside (so maybe a whole piece), from the streams'
    // free lists (far fewer than all blocks), highest first.
    const g = this.#space.granularity;
    const candidates: Block[] = [];
    const seen = new Set<StreamFreeLists>();
    for (const range of host.segments) {
      const lists = host.listsFor(range.stream);
      if (seen.has(lists)) continue;
      seen.add(lists);
      const consider = (block: Block) => {
        if (block === spare?.prev || block === spare?.next) return;
        if (Math.floor((block.offset + block.size) / g) > Math.ceil(block.offset / g)) {
          candidates.push(block);
        }
      };
      lists.large.forEachBlock(consider);
      lists.small.forEachBlock(consider);
    }
    candidates.sort((a, b) => (a.address < b.address ? 1 : -1));
    const chosen: FreePiece[] = [];
    walk: for (const block of candidates) {
      if (!pastItsWork(block)) continue;
      const pieces = this.#space.mappingsWithin(block.address, block.size);
      for (let i = pieces.length - 1; i >= 0; i--) {
        chosen.push({ block, ...pieces[i] });
        keep -= pieces[i].bytes;
        if (keep <= bytesToKeep) break walk;
      }
    }
    this.#unmapAll(chosen);
  }

  /** The mapped pieces lying wholly in free blocks. */
  #freePieces(): FreePiece[] {
    const pieces: FreePiece[] = [];
    for (const segment of this.#host.segments) {
      for (let block: Block | null = segment.first; block !== null; block = block.next) {
        if (block.binSlot < 0) continue;
        for (const piece of this.#space.mappingsWithin(block.address, block.size)) {
          pieces.push({ block, ...piece });
        }
      }
    }
    return pieces;
  }

  /** The first of `pieces`, in their order, whose unmapping leaves at most `bytesToKeep`. */
  #choose(pieces: FreePiece[], bytesToKeep: number): FreePiece[] {
    let keep = this.#host.reservedBytes();
    return pieces.filter((piece) => {
      if (keep <= bytesToKeep) return false;
      keep -= piece.bytes;
      return true;
    });
  }

  /** Unmaps `pieces` (each lying in a free block). */
  #unmapAll(pieces: FreePiece[]): void {
    // In address order, so each piece lies in the free block left after the one before it.
    pieces.sort((a, b) => (a.address < b.address ? -1 : 1));
    let rest: Block | null = null;
    for (const { block, address, bytes } of pieces) {
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
