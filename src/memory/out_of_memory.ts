/**
 * Builds OutOfMemoryError with the device's free and total memory read right after the failure.
 *
 * @module
 */

import { CUresult } from "../../ffi/cuda.ts";
import { check, cudaDriver, cudaErrorOf } from "../cuda/driver.ts";
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

/**
 * Checks a driver allocation call's result: OutOfMemoryError (its cause the CudaError) when the
 * driver is out of memory, CudaError for any other failure.
 */
export function checkDriverAllocation(
  result: number,
  call: string,
  device: MemorySource,
  requestedBytes: number,
): void {
  if (result === CUresult.ERROR_OUT_OF_MEMORY) {
    throw outOfMemoryError(device, requestedBytes, cudaErrorOf(cudaDriver().symbols, call, result));
  }
  check(result, call);
}
