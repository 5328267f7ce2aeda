/**
 * Checking before allocating: a kernel call asks the manager whether its memory fits and, when
 * it does not, throws the manager's OutOfMemoryError with the device's figures and what the call
 * needed, before anything is allocated.
 *
 * @module
 */

import type { MemoryDevice } from "../device/types.ts";
import { OutOfMemoryError } from "../errors.ts";
import { getMemoryManager } from "../manager/memory_manager.ts";

/** Whether the manager can give `bytes` on `device` now (its cache freed first if need be). */
export function fits(device: MemoryDevice, bytes: number): boolean {
  return getMemoryManager().canAllocate(Math.max(bytes, 1), device);
}

/** Throws OutOfMemoryError (saying `what` needs `bytes`) unless `bytes` fit on `device`. */
export function requireBytes(device: MemoryDevice, bytes: number, what: string): void {
  if (fits(device, bytes)) return;
  const { free, total } = device.memInfo();
  throw new OutOfMemoryError(
    { requestedBytes: bytes, device: device.id, freeBytes: free, totalBytes: total },
    [`${what} needs ${bytes} B`],
  );
}

/**
 * The most items (halving from `items`, down to `least`) whose `bytesFor(items)` fit on `device`;
 * OutOfMemoryError naming `what` when even `least` does not.
 */
export function fitItems(
  device: MemoryDevice,
  items: number,
  least: number,
  bytesFor: (items: number) => number,
  what: string,
): number {
  let chunk = Math.max(items, 1);
  while (chunk > least && !fits(device, bytesFor(chunk))) chunk = Math.ceil(chunk / 2);
  requireBytes(device, bytesFor(chunk), `${what} (a chunk of ${chunk})`);
  return chunk;
}
