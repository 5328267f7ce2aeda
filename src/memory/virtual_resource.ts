/**
 * Address space without memory: an upstream for replaying allocation traces, so a pool's policy
 * can be measured on a 15 GB trace on any laptop. Addresses are handed out by bumping a cursor
 * (never reused, so two live ranges can never overlap); nothing may read or write them.
 *
 * @module
 */

import { type CpuDevice, cpuDevice } from "../device/cpu_device.ts";
import { checkByteCount } from "../validate.ts";
import { LiveAllocations } from "./live_allocations.ts";
import type { MemoryResource } from "./resource.ts";

/** Where virtual addresses start: far above any real host mapping of interest. */
const VIRTUAL_BASE = 1n << 52n;
const ALIGNMENT = 2n << 20n;

/**
 * A MemoryResource of pure address space on the cpu device (for accounting only).
 *
 * @example
 * ```ts
 * import { MemoryPool, VirtualResource } from "@gpumem/gpumem";
 * const pool = new MemoryPool(new VirtualResource());
 * const block = pool.allocateBlock(15e9); // 15 GB of address space, no memory
 * pool.deallocateBlock(block);
 * ```
 */
export class VirtualResource implements MemoryResource {
  /** The cpu device (nominal: the addresses are not backed). */
  readonly device: CpuDevice = cpuDevice;
  /** `virtual`. */
  readonly name = "virtual";
  /** What this resource has handed out and not taken back. */
  readonly live: LiveAllocations = new LiveAllocations();
  #cursor = VIRTUAL_BASE;

  /** Hands out `bytes` of fresh address space, 2 MiB aligned. */
  allocate(bytes: number): bigint {
    checkByteCount(bytes, "bytes");
    if (bytes === 0) return 0n;
    const address = this.#cursor;
    this.#cursor += (BigInt(bytes) + ALIGNMENT - 1n) / ALIGNMENT * ALIGNMENT;
    this.live.add(address, bytes);
    return address;
  }

  /** Takes back a range this resource handed out. */
  deallocate(address: bigint, bytes: number): void {
    if (address === 0n && bytes === 0) return;
    this.live.verify(address, bytes, this.name);
    this.live.remove(address, bytes);
  }
}
