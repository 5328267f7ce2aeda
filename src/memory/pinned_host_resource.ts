/**
 * Page-locked ("pinned") host memory from cuMemHostAlloc: the upstream of the pinned pool that
 * HostBuffer and the transfer pipeline's staging buffers come from. The DMA engines read and
 * write it directly, so copies from and to it run at the link's speed and can be asynchronous.
 *
 * @module
 */

import { CU_MEMHOSTALLOC_PORTABLE } from "../../ffi/cuda.ts";
import type { Device } from "../cuda/device.ts";
import { check, cudaDriver } from "../cuda/driver.ts";
import { cpuDevice } from "../device/cpu_device.ts";
import type { MemInfo } from "../device/types.ts";
import { checkByteCount } from "../validate.ts";
import { LiveAllocations } from "./live_allocations.ts";
import { checkDriverAllocation, type MemorySource } from "./out_of_memory.ts";
import type { MemoryResource } from "./resource.ts";

const addressOut = new BigUint64Array(1);

/**
 * Pinned host memory (cuMemHostAlloc with CU_MEMHOSTALLOC_PORTABLE, so every device's context
 * may use it), freed with cuMemFreeHost. Allocating pins pages, which is slow (milliseconds per
 * hundred MiB): put a {@linkcode MemoryPool} over it, as the manager's pinned pools do.
 *
 * @example
 * ```ts
 * import { cudaAvailability, Device, PinnedHostResource } from "@gpumem/gpumem";
 * if (cudaAvailability().usable) {
 *   const pinned = new PinnedHostResource(Device.get(0));
 *   const address = pinned.allocate(1 << 20);
 *   pinned.deallocate(address, 1 << 20);
 * }
 * ```
 */
export class PinnedHostResource implements MemoryResource {
  /** The device whose context allocates (the memory is usable from every context). */
  readonly device: Device;
  /** `cuMemHostAlloc(cuda:N)`. */
  readonly name: string;
  /** What this resource has handed out and not taken back. */
  readonly live: LiveAllocations = new LiveAllocations();
  readonly #source: MemorySource;

  /** A resource pinning host memory through `device`'s context. */
  constructor(device: Device) {
    this.device = device;
    this.name = `cuMemHostAlloc(${device.id})`;
    this.#source = {
      id: `host memory (pinned through ${device.id})`,
      memInfo: () => this.memInfo(),
    };
  }

  /** cuMemHostAlloc; OutOfMemoryError (with the system's free/total memory) when refused. */
  allocate(bytes: number): bigint {
    checkByteCount(bytes, "bytes");
    if (bytes === 0) return 0n;
    this.device.activate();
    const result = cudaDriver().symbols.cuMemHostAlloc(
      addressOut,
      BigInt(bytes),
      CU_MEMHOSTALLOC_PORTABLE,
    );
    checkDriverAllocation(result, "cuMemHostAlloc", this.#source, bytes);
    const address = addressOut[0];
    this.live.add(address, bytes);
    this.device.retainUser();
    return address;
  }

  /** cuMemFreeHost, after checking the address is a live allocation of this resource. */
  deallocate(address: bigint, bytes: number): void {
    if (bytes === 0 && address === 0n) return;
    this.live.verify(address, bytes, this.name);
    this.device.activate();
    check(cudaDriver().symbols.cuMemFreeHost(address), "cuMemFreeHost");
    this.live.remove(address, bytes);
    this.device.releaseUser();
  }

  /** The system's free and total memory (pinned pages come from it, not from the device). */
  memInfo(): MemInfo {
    return cpuDevice.memInfo();
  }
}
