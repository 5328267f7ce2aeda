/**
 * The plain upstream: cuMemAlloc and cuMemFree, synchronous, uncached.
 *
 * @module
 */

import type { Device } from "../cuda/device.ts";
import { cudaDriver } from "../cuda/driver.ts";
import { DriverResource } from "./driver_resource.ts";
import type { MemorySource } from "./out_of_memory.ts";

/**
 * Device memory straight from cuMemAlloc_v2 / cuMemFree_v2 (~60–90 µs a round trip on an H100):
 * the upstream a caching pool sits on.
 *
 * @example
 * ```ts
 * import { CudaMallocResource, cudaAvailability, Device } from "@gpumem/gpumem";
 * if (cudaAvailability().usable) {
 *   const resource = new CudaMallocResource(Device.get(0));
 *   const address = resource.allocate(1 << 20);
 *   resource.deallocate(address, 1 << 20);
 * }
 * ```
 */
export class CudaMallocResource extends DriverResource {
  /** The CUDA device allocated on. */
  declare readonly device: Device;

  /** A resource allocating on `device`. */
  constructor(device: Device) {
    super(device, `cuMemAlloc(${device.id})`, { allocate: "cuMemAlloc_v2", free: "cuMemFree_v2" });
  }

  /** The device (OutOfMemoryError reports its free and total memory). */
  protected get source(): MemorySource {
    return this.device;
  }

  /** cuMemAlloc_v2. */
  protected driverAllocate(out: BigUint64Array, bytes: bigint): number {
    return cudaDriver().symbols.cuMemAlloc_v2(out, bytes);
  }

  /** cuMemFree_v2. */
  protected driverFree(address: bigint): number {
    return cudaDriver().symbols.cuMemFree_v2(address);
  }
}
