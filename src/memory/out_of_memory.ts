/**
 * Builds OutOfMemoryError with the device's free and total memory read right after the failure.
 *
 * @module
 */

import type { MemoryDevice } from "../device/types.ts";
import { OutOfMemoryError } from "../errors.ts";

/** The error for a failed request of `requestedBytes` on `device`; `extra` lines go last. */
export function outOfMemoryError(
  device: MemoryDevice,
  requestedBytes: number,
  cause?: unknown,
  extra: readonly string[] = [],
): OutOfMemoryError {
  let free = NaN;
  let total = NaN;
  try {
    ({ free, total } = device.memInfo());
  } catch {
    // The report must not hide the original failure; unknown figures print as "unknown".
  }
  return new OutOfMemoryError(
    { requestedBytes, device: device.id, freeBytes: free, totalBytes: total },
    extra,
    cause === undefined ? undefined : { cause },
  );
}
