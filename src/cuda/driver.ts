/**
 * The process's one handle on the CUDA driver: loaded and initialised lazily, once.
 *
 * @module
 */

import { CUDA_LIBRARY_NAMES, type CudaSymbols, cudaSymbols, CUresult } from "../../ffi/cuda.ts";
import { openLibrary } from "../../ffi/loader.ts";
import { CudaError, DriverUnavailableError } from "../errors.ts";

/** The loaded and initialised driver. */
export interface CudaDriver {
  /** The driver's symbols (raw; check every result with {@linkcode check}). */
  readonly symbols: CudaSymbols;
  /** The library path that loaded. */
  readonly path: string;
  /** The driver's CUDA version, e.g. 13000 for 13.0. */
  readonly version: number;
}

/** Environment variable naming the driver library to load instead of libcuda.so.1. */
export const CUDA_LIBRARY_ENV = "GPUMEM_CUDA_LIBRARY";

let loaded: CudaDriver | undefined;
let failure: DriverUnavailableError | undefined;
const int32Out = new Int32Array(1);
const stringOut = new BigUint64Array(1);

/**
 * The initialised driver. Throws DriverUnavailableError (listing every path tried) when no
 * library loads or cuInit fails; the failure is remembered, so later calls throw it again cheaply.
 */
export function cudaDriver(): CudaDriver {
  if (loaded) return loaded;
  if (failure) throw failure;
  try {
    loaded = loadCudaDriver();
  } catch (error) {
    if (error instanceof DriverUnavailableError) failure = error;
    throw error;
  }
  return loaded;
}

/**
 * Loads and initialises the driver now, reading GPUMEM_CUDA_LIBRARY afresh, without touching the
 * process's cached driver (see {@linkcode cudaDriver}). Throws DriverUnavailableError naming every
 * path tried when no library loads, or the cuInit failure as its cause.
 */
export function loadCudaDriver(): CudaDriver {
  const result = openLibrary(cudaSymbols, CUDA_LIBRARY_ENV, CUDA_LIBRARY_NAMES);
  if (!result.ok) {
    throw new DriverUnavailableError(
      "no CUDA driver library could be loaded; tried:",
      result.attempts,
    );
  }
  const symbols = result.library.symbols;
  const init = symbols.cuInit(0);
  if (init !== CUresult.SUCCESS) {
    const cause = cudaErrorOf(symbols, "cuInit", init);
    result.library.close();
    throw new DriverUnavailableError(
      `the CUDA driver at ${result.path} loaded but cuInit failed: ${cause.codeName}` +
        (init === CUresult.ERROR_NO_DEVICE ? " (no CUDA-capable device is visible)" : ""),
      [],
      { cause },
    );
  }
  check(symbols.cuDriverGetVersion(int32Out), "cuDriverGetVersion", symbols);
  return { symbols, path: result.path, version: int32Out[0] };
}

/** Whether the driver loads and initialises, and if not, why: never throws. */
export function driverStatus(): { available: true; driver: CudaDriver } | {
  available: false;
  error: DriverUnavailableError;
} {
  try {
    return { available: true, driver: cudaDriver() };
  } catch (error) {
    if (error instanceof DriverUnavailableError) return { available: false, error };
    throw error;
  }
}

/**
 * Throws CudaError when `result` is not CUDA_SUCCESS. `call` names the driver function.
 * Kept tiny so the hot path is one comparison.
 */
export function check(result: number, call: string, symbols?: CudaSymbols): void {
  if (result !== CUresult.SUCCESS) {
    throw cudaErrorOf(symbols ?? cudaDriver().symbols, call, result);
  }
}

/** Builds the CudaError for `code`, with the driver's name and description of it. */
export function cudaErrorOf(symbols: CudaSymbols, call: string, code: number): CudaError {
  return new CudaError(
    call,
    code,
    readDriverString(symbols.cuGetErrorName(code, stringOut), "CUDA_ERROR_UNKNOWN"),
    readDriverString(symbols.cuGetErrorString(code, stringOut), "unrecognised error code"),
  );
}

function readDriverString(status: number, fallback: string): string {
  if (status !== CUresult.SUCCESS || stringOut[0] === 0n) return fallback;
  const pointer = Deno.UnsafePointer.create(stringOut[0]);
  return pointer ? Deno.UnsafePointerView.getCString(pointer) : fallback;
}
