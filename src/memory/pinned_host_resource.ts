/**
 * Page-locked ("pinned") host memory from cuMemHostAlloc: the upstream of the pinned pool that
 * HostBuffer and the transfer pipeline's staging buffers come from. The DMA engines read and
 * write it directly, so copies from and to it run at the link's speed and can be asynchronous.
 *
 * @module
 */

import { CU_MEMHOSTALLOC_PORTABLE } from "../../ffi/cuda.ts";
import type { Device } from "../cuda/device.ts";
import { cudaDriver } from "../cuda/driver.ts";
import { cpuDevice } from "../device/cpu_device.ts";
import type { MemInfo } from "../device/types.ts";
import { DriverResource } from "./driver_resource.ts";
import type { MemorySource } from "./out_of_memory.ts";

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
export class PinnedHostResource extends DriverResource {
  /** The device whose context allocates (the memory is usable from every context). */
  declare readonly device: Device;
  readonly #source: MemorySource;

  /** A resource pinning host memory through `device`'s context. */
  constructor(device: Device) {
    super(device, `cuMemHostAlloc(${device.id})`, {
      allocate: "cuMemHostAlloc",
      free: "cuMemFreeHost",
    });
    this.#source = {
      id: `host memory (pinned through ${device.id})`,
      memInfo: () => this.memInfo(),
    };
  }

  /** The system's free and total memory (pinned pages come from it, not from the device). */
  memInfo(): MemInfo {
    return cpuDevice.memInfo();
  }

  /** Host memory (OutOfMemoryError reports the system's free and total memory). */
  protected get source(): MemorySource {
    return this.#source;
  }

  /** cuMemHostAlloc, portable to every context. */
  protected driverAllocate(out: BigUint64Array, bytes: bigint): number {
    return cudaDriver().symbols.cuMemHostAlloc(out, bytes, CU_MEMHOSTALLOC_PORTABLE);
  }

  /** cuMemFreeHost. */
  protected driverFree(address: bigint): number {
    return cudaDriver().symbols.cuMemFreeHost(address);
  }
}
