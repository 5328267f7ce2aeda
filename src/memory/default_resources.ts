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

/**
 * The upstream of `device`'s pinned pool: cuMemHostAlloc through its context, or plain host
 * memory on the cpu device (where every copy is a memcpy, so pinning gains nothing).
 */
export function pinnedUpstream(device: MemoryDevice): MemoryResource {
  return device.kind === "cpu" ? new HostResource() : new PinnedHostResource(device);
}

/**
 * A pool per device and a pinned host pool per device, made on first use (a closed one is
 * replaced, not kept refusing). Each MemoryManager owns one; the process manager's is
 * {@linkcode processPools}, which buffers allocate from when they name no resource.
 */
export class DevicePools {
  readonly #pools = new Map<MemoryDevice, MemoryPool>();
  readonly #pinned = new Map<MemoryDevice, MemoryPool>();

  /** The pool of `device`. */
  pool(device: MemoryDevice): MemoryPool {
    return poolOf(
      this.#pools,
      device,
      () => defaultUpstream(device),
      `pool(${device.id})`,
      LIMIT_ENV,
    );
  }

  /** The pinned host pool of `device` (staging and HostBuffer memory). */
  pinned(device: MemoryDevice): MemoryPool {
    return poolOf(
      this.#pinned,
      device,
      () => pinnedUpstream(device),
      `pinned(${device.id})`,
      PINNED_LIMIT_ENV,
    );
  }

  /** The device pools made so far. */
  pools(): MemoryPool[] {
    return [...this.#pools.values()];
  }

  /** The pinned pools made so far. */
  pinnedPools(): MemoryPool[] {
    return [...this.#pinned.values()];
  }

  /**
   * Gives every pool's memory back: a pool with nothing handed out is closed (its reserved
   * address ranges released too), one with live blocks keeps those and frees its cache. Pools
   * asked for later are made anew.
   */
  releaseAll(): void {
    for (const pool of [...this.pools(), ...this.pinnedPools()]) {
      if (pool.closed) continue;
      try {
        if (pool.liveBlocks().length === 0) pool.close();
        else pool.freeCache();
      } catch {
        // A device lost at exit (driver shut down, context gone): nothing more can be given back.
      }
    }
  }
}

/** The process manager's pools (getMemoryManager's). */
export const processPools: DevicePools = new DevicePools();

// At exit, cached memory goes back to the driver rather than being left for it to reclaim, so
// that compute-sanitizer's leak check (and anyone counting) sees nothing held.
globalThis.addEventListener("unload", () => processPools.releaseAll());

/** The default pool of `device`: the process manager's, created on first use. */
export function defaultResource(device: MemoryDevice): MemoryPool {
  return processPools.pool(device);
}

/** The default pools created so far. */
export function defaultPools(): MemoryPool[] {
  return processPools.pools();
}

/** The process manager's pinned host pool of `device`, created on first use. */
export function defaultPinnedPool(device: MemoryDevice): MemoryPool {
  return processPools.pinned(device);
}

/** The pinned pools created so far. */
export function defaultPinnedPools(): MemoryPool[] {
  return processPools.pinnedPools();
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
