/**
 * Blocks and segments: the pool's view of the memory it got from its upstream. A segment is one
 * upstream allocation; it is cut into blocks kept in address order, so that a freed block merges
 * with free neighbours.
 *
 * @module
 */

import type { Event } from "../../cuda/event.ts";
import type { Stream } from "../../cuda/stream.ts";

/** Block.binSlot of a freed block waiting, unmerged, in its stream's quick list. */
export const QUICK = -2;
/** Block.binSlot of a piece of a growable segment with no memory mapped under it. */
export const UNMAPPED = -3;

/**
 * One upstream allocation, owned by the stream it was made for; or, for a pool over an
 * AddressSpaceResource, one reserved address range that memory is mapped into as the pool grows
 * (a growable segment: its blocks tile the whole range, the unmapped ones marked UNMAPPED).
 */
export class Segment {
  /** Start address. */
  readonly address: bigint;
  /** Bytes. */
  readonly size: number;
  /** The stream whose free list its blocks return to (null: the legacy default stream). */
  readonly stream: Stream | null;
  /** Whether it serves small requests (≤ 1 MiB) or large ones. */
  readonly small: boolean;
  /** The unmapped pieces of a growable segment; null for a segment mapped whole. */
  readonly unmapped: Set<Block> | null;
  /** Blocks handed out from it now. */
  allocatedBlocks = 0;
  /** The pool holding it; null before it joins one and once released (a cheap ownership test). */
  pool: object | null = null;
  /** The first block (lowest address). */
  first: Block;

  /**
   * A segment whose whole range is one free block; or, when `growable`, one unmapped piece that
   * the pool maps memory into as it needs.
   */
  constructor(
    address: bigint,
    size: number,
    stream: Stream | null,
    small: boolean,
    growable = false,
  ) {
    this.address = address;
    this.size = size;
    this.stream = stream;
    this.small = small;
    this.first = new Block(this, address, 0, size);
    if (growable) {
      this.first.binSlot = UNMAPPED;
      this.unmapped = new Set([this.first]);
    } else this.unmapped = null;
  }
}

/** A range of a segment, free or handed out. */
export class Block {
  /** The segment it lies in. */
  readonly segment: Segment;
  /** Start address. */
  address: bigint;
  /** Offset in the segment. */
  offset: number;
  /** Bytes (a multiple of the pool's rounding). */
  size: number;
  /** Neighbours in address order, within the segment. */
  prev: Block | null = null;
  /** Neighbours in address order, within the segment. */
  next: Block | null = null;
  /** Handed out to a caller. */
  allocated = false;
  /** Bytes the caller asked for (≤ size) while allocated. */
  requested = 0;
  /**
   * Position in its free list's bin while free and merged into the index; QUICK while it waits
   * unmerged in a quick list; UNMAPPED for a piece with no memory; -1 while allocated or pending.
   */
  binSlot: number = -1;
  /** Streams other than the segment's that used the block (recordStream, borrowing; null: the legacy default stream); null when none. */
  useStreams: (Stream | null)[] | null = null;
  /** Events the block waits on before it may be reused (cross-stream frees); null when none. */
  pendingEvents: Event[] | null = null;
  /** Label given at allocation, for reports. */
  label: string | undefined = undefined;
  /** Its stream's epoch when it was last filed free (see stream_epochs.ts). */
  filedAt = 0;

  /** A block of `size` bytes at `offset` in `segment`. */
  constructor(segment: Segment, address: bigint, offset: number, size: number) {
    this.segment = segment;
    this.address = address;
    this.offset = offset;
    this.size = size;
  }
}
