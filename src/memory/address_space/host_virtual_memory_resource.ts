/**
 * Host virtual memory through mmap: the cpu device's counterpart of CUDA's virtual memory API.
 * A range is reserved inaccessible (PROT_NONE, MAP_NORESERVE); mapping replaces a piece of it with
 * fresh zeroed read-write pages (MAP_FIXED); unmapping replaces them with an inaccessible
 * reservation again, which gives their memory back to the system while the addresses stay put.
 * So pools grow in place and buffers resize in place on the cpu device too, and CI tests that
 * logic on real memory.
 *
 * @module
 */

import { type LibcSymbols, MAP_FAILED } from "../../../ffi/libc.ts";
import { type OpenLibc, openLibc } from "../../host/c_library.ts";
import { type CpuDevice, cpuDevice } from "../../device/cpu_device.ts";
import { GpumemError, InvalidArgumentError } from "../../errors.ts";
import { outOfMemoryError } from "../out_of_memory.ts";
import { AddressSpaceResource, checkRangeBytes } from "./address_space_resource.ts";

/** Options for {@linkcode HostVirtualMemoryResource}. */
export interface HostVirtualMemoryOptions {
  /** Map granularity in bytes, a multiple of 4096 (default 2 MiB, as CUDA's on current GPUs). */
  granularity?: number;
  /** Address space a pool reserves per grown segment (default: the system's memory, or 64 GiB). */
  defaultRangeBytes?: number;
}

const PAGE = 4096;
const DEFAULT_GRANULARITY = 2 << 20;
const FALLBACK_RANGE = 64 * 2 ** 30;

/** errno of the calling thread, or NaN when the C library does not say. */
function errno(symbols: LibcSymbols): number {
  const location = (symbols.__errno_location ?? symbols.__error)?.();
  return location ? new Deno.UnsafePointerView(location).getInt32() : NaN;
}

/**
 * Host memory mapped into reserved address ranges, on the cpu device.
 *
 * @example
 * ```ts
 * import { HostVirtualMemoryResource } from "@gpumem/gpumem";
 * const host = new HostVirtualMemoryResource();
 * const range = host.reserve(64 * host.granularity); // addresses only
 * host.map(range, host.granularity); // the first 2 MiB become memory
 * host.unmap(range, host.granularity);
 * host.release(range, 64 * host.granularity);
 * ```
 */
export class HostVirtualMemoryResource extends AddressSpaceResource {
  /** Always the cpu device. */
  readonly device: CpuDevice = cpuDevice;
  /** `host-vm`. */
  readonly name = "host-vm";
  /** Bytes every map is a multiple of. */
  readonly granularity: number;
  /** Address space a pool reserves per grown segment. */
  readonly defaultRangeBytes: number;
  readonly #libc: OpenLibc;

  /** Opens the C library (LibraryUnavailableError where mmap is not bound). */
  constructor(options: HostVirtualMemoryOptions = {}) {
    super();
    checkRangeBytes(options.defaultRangeBytes);
    const granularity = options.granularity ?? DEFAULT_GRANULARITY;
    if (!(Number.isSafeInteger(granularity) && granularity > 0 && granularity % PAGE === 0)) {
      throw new InvalidArgumentError("granularity", `a positive multiple of ${PAGE}`, granularity);
    }
    this.granularity = granularity;
    const total = cpuDevice.memInfo().total;
    this.defaultRangeBytes = this.roundUp(
      options.defaultRangeBytes ?? (Number.isFinite(total) ? total : FALLBACK_RANGE),
    );
    this.#libc = openLibc();
  }

  /** mmap(PROT_NONE, MAP_NORESERVE): addresses, no memory. */
  protected reserveRange(bytes: number): bigint {
    const { symbols, constants } = this.#libc;
    const flags = constants.MAP_PRIVATE_ANONYMOUS | constants.MAP_NORESERVE;
    const pointer = symbols.mmap(null, BigInt(bytes), constants.PROT_NONE, flags, -1, 0n);
    const address = Deno.UnsafePointer.value(pointer);
    if (address === MAP_FAILED || address === 0n) {
      throw outOfMemoryError(
        this.device,
        bytes,
        new Error(`mmap reserving ${bytes} B failed (errno ${errno(symbols)})`),
        ["the process is out of address space"],
      );
    }
    return address;
  }

  /** munmap of the whole range. */
  protected releaseRange(address: bigint, bytes: number): void {
    const { symbols } = this.#libc;
    if (symbols.munmap(Deno.UnsafePointer.create(address), BigInt(bytes)) !== 0) {
      throw new GpumemError(`munmap of 0x${address.toString(16)} failed (errno ${errno(symbols)})`);
    }
  }

  /** mmap(MAP_FIXED, read-write): fresh zeroed pages in place of the reservation. */
  protected mapRange(address: bigint, bytes: number): void {
    const { constants } = this.#libc;
    this.#remap(address, bytes, constants.PROT_READ_WRITE, 0);
  }

  /** mmap(MAP_FIXED, PROT_NONE): the pages go back to the system; the addresses stay reserved. */
  protected unmapRange(address: bigint, bytes: number): void {
    const { constants } = this.#libc;
    this.#remap(address, bytes, constants.PROT_NONE, constants.MAP_NORESERVE);
  }

  #remap(address: bigint, bytes: number, protection: number, extraFlags: number): void {
    const { symbols, constants } = this.#libc;
    const flags = constants.MAP_PRIVATE_ANONYMOUS | constants.MAP_FIXED | extraFlags;
    const pointer = symbols.mmap(
      Deno.UnsafePointer.create(address),
      BigInt(bytes),
      protection,
      flags,
      -1,
      0n,
    );
    if (Deno.UnsafePointer.value(pointer) !== address) {
      throw outOfMemoryError(
        this.device,
        bytes,
        new Error(`mmap at 0x${address.toString(16)} failed (errno ${errno(symbols)})`),
      );
    }
  }
}
