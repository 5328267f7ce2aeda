/**
 * Resources that hand out address ranges first and memory second, as CUDA's virtual memory API
 * does (cuMemAddressReserve, then cuMemCreate + cuMemMap): a range reserved once can have memory
 * mapped into it and unmapped again piece by piece while its addresses stay put. That is what lets
 * a pool grow a segment in place (expandable segments) and a buffer resize without moving.
 *
 * This base class keeps the ledger of ranges and mappings, so every misuse (a map outside any
 * range, overlapping another, unaligned; an unmap that is not exactly one earlier map; releasing a
 * range with memory still mapped) is an InvalidArgumentError before the backend is called.
 * Backends (CUDA, host mmap, pure address space for replays) implement four protected methods.
 *
 * @module
 */

import type { MemoryDevice } from "../../device/types.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { checkByteCount } from "../../validate.ts";
import { LiveAllocations } from "../live_allocations.ts";
import type { MemoryResource } from "../resource.ts";

/** One reserved range and the mappings inside it, both sorted by address. */
interface ReservedRange {
  readonly address: bigint;
  readonly bytes: number;
  /** Mapped pieces: start addresses ascending, with their sizes at the same index. */
  readonly mapStarts: bigint[];
  readonly mapBytes: number[];
}

/**
 * A MemoryResource whose memory is mapped into reserved address ranges. Use `allocate` and
 * `deallocate` as with any resource (a range of its own, mapped whole), or reserve, map and unmap
 * yourself. Sizes and addresses of maps are multiples of {@linkcode AddressSpaceResource.granularity}.
 */
export abstract class AddressSpaceResource implements MemoryResource {
  /** The device whose memory is mapped. */
  abstract readonly device: MemoryDevice;
  /** A short name for messages. */
  abstract readonly name: string;
  /** Every range, map and unmap is aligned to and sized in multiples of this many bytes. */
  abstract readonly granularity: number;
  /** How much address space a pool reserves for each segment it grows in place. */
  abstract readonly defaultRangeBytes: number;
  /** Ranges handed out by {@linkcode AddressSpaceResource.allocate}, with the bytes asked for. */
  readonly live: LiveAllocations = new LiveAllocations();

  /** Reserved ranges, ascending by address. */
  readonly #ranges: ReservedRange[] = [];
  #reservedBytes = 0;
  #mappedBytes = 0;
  #peakMappedBytes = 0;
  #mappings = 0;

  /** Bytes of address space reserved now. */
  get reservedBytes(): number {
    return this.#reservedBytes;
  }

  /** Bytes of memory mapped now: what the device actually holds for this resource. */
  get mappedBytes(): number {
    return this.#mappedBytes;
  }

  /** The most bytes mapped at once since creation. */
  get peakMappedBytes(): number {
    return this.#peakMappedBytes;
  }

  /** Number of separate mappings now. */
  get mappings(): number {
    return this.#mappings;
  }

  /** `bytes` rounded up to a multiple of the granularity. */
  roundUp(bytes: number): number {
    return Math.ceil(bytes / this.granularity) * this.granularity;
  }

  /** Reserves `bytes` (a positive multiple of the granularity) of address space, with no memory. */
  reserve(bytes: number): bigint {
    this.#checkMultiple(bytes, "bytes");
    const address = this.reserveRange(bytes);
    const range: ReservedRange = { address, bytes, mapStarts: [], mapBytes: [] };
    this.#ranges.splice(this.#rangeIndexAfter(address), 0, range);
    this.#reservedBytes += bytes;
    return address;
  }

  /** Gives back a whole reserved range; everything mapped into it must have been unmapped. */
  release(address: bigint, bytes: number): void {
    const at = this.#rangeIndexAfter(address) - 1;
    const range = this.#ranges[at];
    if (range === undefined || range.address !== address || range.bytes !== bytes) {
      throw new InvalidArgumentError(
        "range",
        `a range reserved from ${this.name}, with its size`,
        `0x${address.toString(16)} (${bytes} B)`,
      );
    }
    if (range.mapStarts.length > 0) {
      throw new InvalidArgumentError(
        "range",
        "a range with nothing mapped in it",
        `0x${address.toString(16)} with ${range.mapStarts.length} mappings`,
      );
    }
    this.releaseRange(address, bytes);
    this.#ranges.splice(at, 1);
    this.#reservedBytes -= bytes;
  }

  /**
   * Backs `[address, address + bytes)` with new memory, as pieces of `pieceBytes` (default: one
   * piece; the last may be smaller), each a mapping of its own that unmaps alone. The span must
   * lie in one reserved range, be aligned to the granularity and overlap no mapping.
   * OutOfMemoryError when the memory cannot be had (nothing is left mapped then).
   */
  map(address: bigint, bytes: number, pieceBytes: number = bytes): void {
    this.#checkMultiple(bytes, "bytes");
    this.#checkMultiple(pieceBytes, "pieceBytes");
    const range = this.#rangeHolding(address, bytes);
    const offset = Number(address - range.address);
    if (offset % this.granularity !== 0) {
      throw new InvalidArgumentError(
        "address",
        `an address aligned to ${this.granularity} B in its range`,
        `0x${address.toString(16)}`,
      );
    }
    const at = lowerBound(range.mapStarts, address);
    const end = address + BigInt(bytes);
    const before = at - 1;
    if (
      (at < range.mapStarts.length && range.mapStarts[at] < end) ||
      (before >= 0 && range.mapStarts[before] + BigInt(range.mapBytes[before]) > address)
    ) {
      throw new InvalidArgumentError(
        "address",
        "a piece overlapping no mapping",
        `0x${address.toString(16)} (${bytes} B)`,
      );
    }
    const pieces: number[] = [];
    for (let done = 0; done < bytes; done += pieceBytes) {
      pieces.push(Math.min(pieceBytes, bytes - done));
    }
    this.mapPieces(address, pieces);
    const starts: bigint[] = [];
    let start = address;
    for (const piece of pieces) {
      starts.push(start);
      start += BigInt(piece);
    }
    range.mapStarts.splice(at, 0, ...starts);
    range.mapBytes.splice(at, 0, ...pieces);
    this.#mappings += pieces.length;
    this.#mappedBytes += bytes;
    if (this.#mappedBytes > this.#peakMappedBytes) this.#peakMappedBytes = this.#mappedBytes;
  }

  /** Calls `visit` with every piece mapped now (address and bytes), ascending by address. */
  protected forEachMapping(visit: (address: bigint, bytes: number) => void): void {
    for (const range of this.#ranges) {
      range.mapStarts.forEach((start, i) => visit(start, range.mapBytes[i]));
    }
  }

  /** Unmaps exactly one earlier {@linkcode AddressSpaceResource.map}; its memory is freed. */
  unmap(address: bigint, bytes: number): void {
    const range = this.#ranges[this.#rangeIndexAfter(address) - 1];
    const at = range === undefined ? -1 : lowerBound(range.mapStarts, address);
    if (
      range === undefined || range.mapStarts[at] !== address || range.mapBytes[at] !== bytes
    ) {
      throw new InvalidArgumentError(
        "address",
        `a piece mapped by ${this.name}, with its size`,
        `0x${address.toString(16)} (${bytes} B)`,
      );
    }
    this.unmapRange(address, bytes);
    range.mapStarts.splice(at, 1);
    range.mapBytes.splice(at, 1);
    this.#mappings--;
    this.#mappedBytes -= bytes;
  }

  /**
   * The mappings lying wholly inside `[address, address + bytes)`, ascending: the pieces that can
   * be unmapped when that span is no longer used.
   */
  mappingsWithin(address: bigint, bytes: number): { address: bigint; bytes: number }[] {
    const range = this.#ranges[this.#rangeIndexAfter(address) - 1];
    if (range === undefined) return [];
    const end = address + BigInt(bytes);
    const within: { address: bigint; bytes: number }[] = [];
    for (let at = lowerBound(range.mapStarts, address); at < range.mapStarts.length; at++) {
      const start = range.mapStarts[at];
      if (start + BigInt(range.mapBytes[at]) > end) break;
      within.push({ address: start, bytes: range.mapBytes[at] });
    }
    return within;
  }

  /** A range of its own with `bytes` (rounded up to the granularity) mapped: any resource's allocate. */
  allocate(bytes: number): bigint {
    checkByteCount(bytes, "bytes");
    if (bytes === 0) return 0n;
    const rounded = this.roundUp(bytes);
    const address = this.reserve(rounded);
    try {
      this.map(address, rounded);
    } catch (error) {
      this.release(address, rounded);
      throw error;
    }
    this.live.add(address, bytes);
    return address;
  }

  /** Takes back an address from {@linkcode AddressSpaceResource.allocate}: unmaps and releases it. */
  deallocate(address: bigint, bytes: number): void {
    if (address === 0n && bytes === 0) return;
    this.live.verify(address, bytes, this.name);
    const rounded = this.roundUp(bytes);
    this.unmap(address, rounded);
    this.release(address, rounded);
    this.live.remove(address, bytes);
  }

  /** Backend: reserves `bytes` of address space aligned to the granularity; returns its start. */
  protected abstract reserveRange(bytes: number): bigint;
  /** Backend: frees a reserved range (nothing is mapped in it). */
  protected abstract releaseRange(address: bigint, bytes: number): void;
  /** Backend: maps new memory at a checked piece; throws OutOfMemoryError, leaving nothing mapped. */
  protected abstract mapRange(address: bigint, bytes: number): void;

  /**
   * Backend: maps consecutive pieces from `address`, each its own mapping; on any failure unmaps
   * those it mapped and throws. By default one mapRange each; a backend may batch the work.
   */
  protected mapPieces(address: bigint, pieces: readonly number[]): void {
    let at = address;
    for (let i = 0; i < pieces.length; i++) {
      try {
        this.mapRange(at, pieces[i]);
      } catch (error) {
        for (let j = i - 1; j >= 0; j--) {
          at -= BigInt(pieces[j]);
          this.unmapRange(at, pieces[j]);
        }
        throw error;
      }
      at += BigInt(pieces[i]);
    }
  }
  /** Backend: unmaps a piece mapped by one mapRange call and frees its memory. */
  protected abstract unmapRange(address: bigint, bytes: number): void;

  #checkMultiple(bytes: number, name: string): void {
    if (!(Number.isSafeInteger(bytes) && bytes > 0 && bytes % this.granularity === 0)) {
      throw new InvalidArgumentError(
        name,
        `a positive multiple of ${this.granularity} B (the granularity of ${this.name})`,
        bytes,
      );
    }
  }

  /** The reserved range holding all of `[address, address + bytes)`, or InvalidArgumentError. */
  #rangeHolding(address: bigint, bytes: number): ReservedRange {
    const range = this.#ranges[this.#rangeIndexAfter(address) - 1];
    if (range === undefined || address + BigInt(bytes) > range.address + BigInt(range.bytes)) {
      throw new InvalidArgumentError(
        "address",
        `a piece inside one range reserved from ${this.name}`,
        `0x${address.toString(16)} (${bytes} B)`,
      );
    }
    return range;
  }

  /** Index of the first range starting above `address`. */
  #rangeIndexAfter(address: bigint): number {
    let low = 0;
    let high = this.#ranges.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#ranges[middle].address <= address) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** First index in ascending `starts` whose value is ≥ `address`. */
function lowerBound(starts: readonly bigint[], address: bigint): number {
  let low = 0;
  let high = starts.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (starts[middle] < address) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Checks a `defaultRangeBytes` option (before any FFI call): undefined, or a positive safe integer.
 * Backends round it up to their granularity.
 */
export function checkRangeBytes(value: number | undefined): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
    throw new InvalidArgumentError("defaultRangeBytes", "a positive safe integer", value);
  }
}

/** Whether `resource` can reserve ranges and map memory into them. */
export function isAddressSpaceResource(
  resource: MemoryResource,
): resource is AddressSpaceResource {
  return resource instanceof AddressSpaceResource;
}
