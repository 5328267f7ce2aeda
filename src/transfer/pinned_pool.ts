/**
 * The pinned pool a transfer object uses: the one named (it must hand out real memory, on the
 * device asked for), or the device's own. One check for HostBuffer, TransferPipeline and Readback.
 *
 * @module
 */

import { defaultDevice } from "../device/select.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError } from "../errors.ts";
import { defaultPinnedPool } from "../memory/default_resources.ts";
import type { MemoryPool } from "../memory/pool/memory_pool.ts";
import { checkBacked } from "../memory/resource.ts";

/**
 * The device and pinned pool of `options` (device: the pool's, else the default device; pool:
 * the device's pinned pool); InvalidArgumentError, naming `argument`, for an address-only pool
 * or one of another device.
 */
export function pinnedPoolOf(
  options: { device?: MemoryDevice; pool?: MemoryPool },
  argument = "pool",
): { device: MemoryDevice; pool: MemoryPool } {
  const device = options.device ?? options.pool?.device ?? defaultDevice();
  const pool = options.pool ?? defaultPinnedPool(device);
  checkBacked(pool, argument);
  if (pool.device !== device) {
    throw new InvalidArgumentError(argument, `a pinned pool of ${device.id}`, pool.name);
  }
  return { device, pool };
}
