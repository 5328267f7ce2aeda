/**
 * The resource each device allocates from when a caller names none: cuMemAlloc for a CUDA device
 * (one shared resource per device, so its live allocations are counted in one place), host
 * memory for the cpu device.
 *
 * @module
 */

import type { Device } from "../cuda/device.ts";
import type { MemoryDevice } from "../device/types.ts";
import { CudaMallocResource } from "./cuda_malloc_resource.ts";
import { HostResource } from "./host_resource.ts";
import type { MemoryResource } from "./resource.ts";

const cudaUpstreams = new Map<Device, CudaMallocResource>();
let hostUpstream: HostResource | undefined;

/** The shared upstream of `device`: a CudaMallocResource, or the HostResource for the cpu device. */
export function defaultResource(device: MemoryDevice): MemoryResource {
  if (device.kind === "cpu") return hostUpstream ??= new HostResource();
  let resource = cudaUpstreams.get(device);
  if (!resource) {
    resource = new CudaMallocResource(device);
    cudaUpstreams.set(device, resource);
  }
  return resource;
}
