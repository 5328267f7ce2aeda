/**
 * The plain upstream: cuMemAlloc and cuMemFree, synchronous, uncached.
 *
 * @module
 */

import type { Device } from "../cuda/device.ts";
import { check, cudaDriver } from "../cuda/driver.ts";
import { checkByteCount } from "../validate.ts";
import { LiveAllocations } from "./live_allocations.ts";
import { checkDriverAllocation } from "./out_of_memory.ts";
import type { MemoryResource } from "./resource.ts";

const addressOut = new BigUint64Array(1);

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
export class CudaMallocResource implements MemoryResource {
  /** The CUDA device allocated on. */
  readonly device: Device;
  /** `cuMemAlloc(cuda:N)`. */
  readonly name: string;
  /** What this resource has handed out and not taken back. */
  readonly live: LiveAllocations = new LiveAllocations();

  /** A resource allocating on `device`. */
  constructor(device: Device) {
    this.device = device;
    this.name = `cuMemAlloc(${device.id})`;
  }

  /** cuMemAlloc_v2; OutOfMemoryError (with device free/total) when the driver is out of memory. */
  allocate(bytes: number): bigint {
    checkByteCount(bytes, "bytes");
    if (bytes === 0) return 0n;
    this.device.activate();
    const result = cudaDriver().symbols.cuMemAlloc_v2(addressOut, BigInt(bytes));
    checkDriverAllocation(result, "cuMemAlloc_v2", this.device, bytes);
    const address = addressOut[0];
    this.live.add(address, bytes);
    this.device.retainUser();
    return address;
  }

  /** cuMemFree_v2, after checking the address is a live allocation of this resource. */
  deallocate(address: bigint, bytes: number): void {
    if (bytes === 0 && address === 0n) return;
    this.live.verify(address, bytes, this.name);
    this.device.activate();
    check(cudaDriver().symbols.cuMemFree_v2(address), "cuMemFree_v2");
    this.live.remove(address, bytes);
    this.device.releaseUser();
  }
}
