/**
 * The resource each device allocates from when a caller names none: a caching MemoryPool per
 * device, created on first use. Its upstream is one it can grow segments in place over where the
 * device allows (CUDA's virtual memory API; host mmap on the cpu device), since that keeps
 * reserved memory within a few percent of what is live (bench/RESULTS.md, replay); else
 * cuMemAlloc or plain host memory. GPUMEM_LIMIT ("8GiB", "70%") caps each pool's reserved bytes.
 * Each device also has a pinned host pool (cuMemHostAlloc) for transfers, capped by
 * GPUMEM_PINNED_LIMIT.
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
import { PinnedHostResource } from "./pinned_host_resource.ts";
import { MemoryPool } from "./pool/memory_pool.ts";
import type { MemoryResource } from "./resource.ts";

/** Environment variable capping each default pool: bytes, "8GiB", "512MB" or "70%". */
export const LIMIT_ENV = "GPUMEM_LIMIT";

/** Environment variable capping each pinned host pool: bytes, "8GiB" or "25%" of host memory. */
export const PINNED_LIMIT_ENV = "GPUMEM_PINNED_LIMIT";

const pools = new Map<MemoryDevice, MemoryPool>();
const pinnedPools = new Map<MemoryDevice, MemoryPool>();

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
  return poolOf(pools, device, () => defaultUpstream(device), `pool(${device.id})`, LIMIT_ENV);
}

/** The default pools created so far. */
export function defaultPools(): MemoryPool[] {
  return [...pools.values()];
}

/**
 * The upstream of `device`'s pinned pool: cuMemHostAlloc through its context, or plain host
 * memory on the cpu device (where every copy is a memcpy, so pinning gains nothing).
 */
export function pinnedUpstream(device: MemoryDevice): MemoryResource {
  return device.kind === "cpu" ? new HostResource() : new PinnedHostResource(device);
}

/** The pinned host pool of `device` (staging and HostBuffer memory), created on first use. */
export function defaultPinnedPool(device: MemoryDevice): MemoryPool {
  return poolOf(
    pinnedPools,
    device,
    () => pinnedUpstream(device),
    `pinned(${device.id})`,
    PINNED_LIMIT_ENV,
  );
}

/** The pinned pools created so far. */
export function defaultPinnedPools(): MemoryPool[] {
  return [...pinnedPools.values()];
}

/** `device`'s pool in `map`, made on first use over `upstream()` with the limit `limitEnv` sets. */
function poolOf(
  map: Map<MemoryDevice, MemoryPool>,
  device: MemoryDevice,
  upstream: () => MemoryResource,
  name: string,
  limitEnv: string,
): MemoryPool {
  let pool = map.get(device);
  // A closed default pool (closing gives all its memory back) is replaced, not kept refusing.
  if (pool === undefined || pool.closed) {
    const limit = readEnv(limitEnv);
    pool = new MemoryPool(upstream(), { name, ...(limit === undefined ? {} : { limit }) });
    map.set(device, pool);
  }
  return pool;
}
