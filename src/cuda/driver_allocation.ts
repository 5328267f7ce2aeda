/**
 * The result of a driver allocation call, as gpumem reports it: OutOfMemoryError with the
 * device's figures when the driver is out of memory, CudaError for anything else.
 *
 * @module
 */

import { CUresult } from "../../ffi/cuda.ts";
import { type MemorySource, outOfMemoryError } from "../memory/out_of_memory.ts";
import { check, cudaDriver, cudaErrorOf } from "./driver.ts";

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
