/**
 * A range of address space of its own, in a pool over an AddressSpaceResource, whose memory grows
 * and shrinks in place: the base address never changes. ResizableBuffer's "vmm" strategy stands
 * on it. Growth maps one new piece after the mapped ones (its cost is what is added, not what is
 * there); shrinking unmaps whole pieces from the end. The pool accounts the mapped bytes as
 * allocated and reserved, under its limit, like any block.
 *
 * @module
 */

import {
  DisposedError,
  formatBytes,
  InvalidArgumentError,
  OutOfMemoryError,
} from "../../errors.ts";
import type { AddressSpaceResource } from "../address_space/address_space_resource.ts";
import { checkByteCount } from "../../validate.ts";

/** What a range asks of the pool that holds it. */
export interface RangeAccount {
  /** Throws OutOfMemoryError (after freeing the pool's cache once) unless `bytes` more fit. */
  admit(bytes: number): void;
  /** Gives the pool's cached memory back to the device; returns whether any was. */
  freeCache(): boolean;
  /** Mapped bytes changed by `delta` (positive: mapped, negative: unmapped). */
  mapped(delta: number): void;
  /** The range was released. */
  closed(range: GrowableRange): void;
}

/** A reserved range growing in place; made by {@linkcode MemoryPool.reserveGrowable}. */
export class GrowableRange {
  /** The base address: stable for the range's whole life. */
  readonly address: bigint;
  /** Bytes of address space reserved: the most it can grow to. */
  readonly maxBytes: number;
  /** A label for reports. */
  readonly label: string | undefined;
  readonly #space: AddressSpaceResource;
  readonly #account: RangeAccount;
  /** Sizes of the mapped pieces, in address order from the base. */
  readonly #pieces: number[] = [];
  #mappedBytes = 0;
  #closed = false;

  /** Use {@linkcode MemoryPool.reserveGrowable}. */
  constructor(
    space: AddressSpaceResource,
    address: bigint,
    maxBytes: number,
    label: string | undefined,
    account: RangeAccount,
  ) {
    this.#space = space;
    this.address = address;
    this.maxBytes = maxBytes;
    this.label = label;
    this.#account = account;
  }

  /** Bytes mapped from the base (a multiple of the granularity). */
  get mappedBytes(): number {
    return this.#mappedBytes;
  }

  /** The mapping granularity: sizes round up to it. */
  get granularity(): number {
    return this.#space.granularity;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Maps memory so that at least `bytes` from the base are mapped (one new piece; nothing when
   * enough is). Past maxBytes: InvalidArgumentError. Refused memory: OutOfMemoryError. Either
   * way, nothing changed.
   */
  grow(bytes: number): void {
    this.#assertOpen();
    checkByteCount(bytes, "bytes");
    if (bytes > this.maxBytes) {
      throw new InvalidArgumentError(
        "bytes",
        `at most the ${formatBytes(this.maxBytes)} reserved`,
        formatBytes(bytes),
      );
    }
    if (bytes <= this.#mappedBytes) return;
    const added = this.#space.roundUp(bytes) - this.#mappedBytes;
    this.#account.admit(added);
    const at = this.address + BigInt(this.#mappedBytes);
    try {
      this.#space.map(at, added);
    } catch (error) {
      // The device is out of memory: what the pool caches may make room, once.
      if (!(error instanceof OutOfMemoryError) || !this.#account.freeCache()) throw error;
      this.#space.map(at, added);
    }
    this.#pieces.push(added);
    this.#mappedBytes += added;
    this.#account.mapped(added);
  }

  /**
   * Unmaps whole pieces from the end while what stays mapped still holds `bytes`; returns the
   * bytes mapped after. (A piece partly needed stays: shrinking is by the pieces growth mapped.)
   * Synchronizes the device first when it unmaps anything.
   */
  shrink(bytes: number): number {
    this.#assertOpen();
    checkByteCount(bytes, "bytes");
    let waited = false;
    while (this.#pieces.length > 0) {
      const last = this.#pieces[this.#pieces.length - 1];
      if (this.#mappedBytes - last < bytes) break;
      // Unmapping does not wait for queued work that may still use the memory, on any stream.
      if (!waited) this.#space.device.synchronize();
      waited = true;
      this.#space.unmap(this.address + BigInt(this.#mappedBytes - last), last);
      this.#pieces.pop();
      this.#mappedBytes -= last;
      this.#account.mapped(-last);
    }
    return this.#mappedBytes;
  }

  /** Unmaps everything and releases the range. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.shrink(0);
    this.#space.release(this.address, this.maxBytes);
    this.#closed = true;
    this.#account.closed(this);
  }

  /** Same as {@linkcode GrowableRange.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new DisposedError(
        `GrowableRange(${formatBytes(this.maxBytes)})`,
        "was used after close()",
      );
    }
  }
}
