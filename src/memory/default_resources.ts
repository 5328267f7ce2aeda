/**
 * The resource each device allocates from when a caller names none: a caching MemoryPool per
 * device, created on first use, over cuMemAlloc for a CUDA device or host memory for the cpu
 * device. GPUMEM_LIMIT ("8GiB", "70%") caps each pool's reserved bytes.
 *
 * @module
 */

import { readEnv } from "../../ffi/env.ts";
import type { MemoryDevice } from "../device/types.ts";
import { CudaMallocResource } from "./cuda_malloc_resource.ts";
import { HostResource } from "./host_resource.ts";
import { MemoryPool } from "./pool/memory_pool.ts";

/** Environment variable capping each default pool: bytes, "8GiB", "512MB" or "70%". */
export const LIMIT_ENV = "GPUMEM_LIMIT";

const pools = new Map<MemoryDevice, MemoryPool>();

/** The default pool of `device`, created on first use. */
export function defaultResource(device: MemoryDevice): MemoryPool {
  let pool = pools.get(device);
  if (pool === undefined) {
    const upstream = device.kind === "cpu" ? new HostResource() : new CudaMallocResource(device);
    const limit = readEnv(LIMIT_ENV);
    pool = new MemoryPool(upstream, {
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
