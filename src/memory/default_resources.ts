/**
 * The resource each device allocates from when a caller names none: a caching MemoryPool per
 * device, created on first use. Its upstream is one it can grow segments in place over where the
 * device allows (CUDA's virtual memory API; host mmap on the cpu device), since that keeps
 * reserved memory within a few percent of what is live (bench/RESULTS.md, replay); else
 * cuMemAlloc or plain host memory. GPUMEM_LIMIT ("8GiB", "70%") caps each pool's reserved bytes.
 *
 * @module
 */

import { readEnv } from "../../ffi/env.ts";
import { MMAP_CONSTANTS } from "../../ffi/libc.ts";
import { cudaDriver } from "../cuda/driver.ts";
import type { MemoryDevice } from "../device/types.ts";
import { CudaVirtualMemoryResource } from "./address_space/cuda_virtual_memory_resource.ts";
import { HostVirtualMemoryResource } from "./address_space/host_virtual_memory_resource.ts";
import { CudaMallocResource } from "./cuda_malloc_resource.ts";
import { HostResource } from "./host_resource.ts";
import { MemoryPool } from "./pool/memory_pool.ts";
import type { MemoryResource } from "./resource.ts";

/** Environment variable capping each default pool: bytes, "8GiB", "512MB" or "70%". */
export const LIMIT_ENV = "GPUMEM_LIMIT";

const pools = new Map<MemoryDevice, MemoryPool>();

/** The upstream of `device`'s default pool. */
export function defaultUpstream(device: MemoryDevice): MemoryResource {
  if (device.kind === "cpu") {
    // mmap needs FFI; without the permission (a plain JSR import) host memory still works.
    const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
    return ffi && MMAP_CONSTANTS[Deno.build.os] !== undefined
      ? new HostVirtualMemoryResource()
      : new HostResource();
  }
  const { symbols } = cudaDriver();
  return device.capabilities.virtualMemoryManagement && symbols.cuMemCreate !== null
    ? new CudaVirtualMemoryResource(device)
    : new CudaMallocResource(device);
}

/** The default pool of `device`, created on first use. */
export function defaultResource(device: MemoryDevice): MemoryPool {
  let pool = pools.get(device);
  if (pool === undefined) {
    const limit = readEnv(LIMIT_ENV);
    pool = new MemoryPool(defaultUpstream(device), {
      name: `pool(${device.id})`,
      ...(limit === undefined ? {} : { limit }),
    });
    pools.set(device, pool);
  }
  return pool;
}

/** The default pools created so far. */
export function defaultPools(): MemoryPool[] {
  return [...pools.values()];
}
