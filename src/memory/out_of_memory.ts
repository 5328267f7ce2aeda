/**
 * Builds OutOfMemoryError with the device's free and total memory read right after the failure.
 * Knows nothing of CUDA (the driver's own check is src/cuda/driver_allocation.ts), so host
 * resources do not depend on the driver.
 *
 * @module
 */

import type { MemInfo } from "../device/types.ts";
import { OutOfMemoryError } from "../errors.ts";

/** Where memory comes from, for an out-of-memory report: a device, or host memory for pinning. */
export interface MemorySource {
  /** The name the report gives it (`cuda:0`, `cpu`, `host (pinned)`). */
  readonly id: string;
  /** Its free and total bytes now. */
  memInfo(): MemInfo;
}

/** The error for a failed request of `requestedBytes` from `device`; `extra` lines go last. */
export function outOfMemoryError(
  device: MemorySource,
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
