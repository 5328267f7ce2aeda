/**
 * Address space without memory: an upstream for replaying allocation traces, so a pool's policy
 * can be measured on a 15 GB trace on any laptop. Ranges are handed out by bumping a cursor
 * (never reused, so two live ranges can never overlap); "mapping" only counts bytes. Nothing may
 * read or write these addresses.
 *
 * @module
 */

import { type CpuDevice, cpuDevice } from "../device/cpu_device.ts";
import { AddressSpaceResource } from "./address_space/address_space_resource.ts";

/** Where virtual addresses start: far above any real host mapping of interest. */
const VIRTUAL_BASE = 1n << 52n;
/** The granularity of CUDA's virtual memory API on current GPUs, so replays map as a GPU would. */
const GRANULARITY = 2 << 20;

/**
 * A resource of pure address space on the cpu device (for accounting only). As an
 * AddressSpaceResource it lets a MemoryPool replay with segments that grow in place.
 *
 * @example
 * ```ts
 * import { MemoryPool } from "@gpumem/gpumem";
 * import { VirtualResource } from "./virtual_resource.ts";
 * const upstream = new VirtualResource();
 * const pool = new MemoryPool(upstream);
 * const block = pool.allocateBlock(15e9); // 15 GB of address space, no memory
 * console.log(upstream.mappedBytes); // 15000928256: 15 GB rounded up to 2 MiB
 * pool.deallocateBlock(block);
 * ```
 */
export class VirtualResource extends AddressSpaceResource {
  /** The cpu device (nominal: the addresses are not backed). */
  readonly device: CpuDevice = cpuDevice;
  /** `virtual`. */
  readonly name = "virtual";
  /** Always true: these addresses hold no memory. */
  readonly addressesOnly = true;
  /** 2 MiB, as on a GPU. */
  readonly granularity: number = GRANULARITY;
  /** 1 TiB of address space per grown segment. */
  readonly defaultRangeBytes: number = 2 ** 40;
  #cursor = VIRTUAL_BASE;

  /** Bumps the cursor. */
  protected reserveRange(bytes: number): bigint {
    const address = this.#cursor;
    this.#cursor += BigInt(bytes);
    return address;
  }

  /** Nothing to free: addresses are never reused. */
  protected releaseRange(): void {}

  /** Nothing to back: the ledger counts the bytes. */
  protected mapRange(): void {}

  /** Nothing to free. */
  protected unmapRange(): void {}
}
