/**
 * Loading the kernel library: the CUDA build for CUDA devices, the CPU build for the cpu device.
 *
 * @module
 */

import {
  KERNEL_ABI_VERSION,
  KernelStatus,
  type KernelSymbols,
  kernelSymbols,
} from "../../ffi/kernels.ts";
import { openLibrary } from "../../ffi/loader.ts";
import { GpumemError, KernelLibraryUnavailableError } from "../errors.ts";

/** Which build of the kernel library. */
export type KernelBackend = "cpu" | "cuda";

/** Environment variables naming a kernel library to load instead of the one in build/. */
export const KERNEL_LIBRARY_ENV: Readonly<Record<KernelBackend, string>> = {
  cpu: "GPUMEM_KERNELS_CPU_LIBRARY",
  cuda: "GPUMEM_KERNELS_LIBRARY",
};

/** A loaded kernel library. */
export interface KernelLibrary {
  /** Which build it is. */
  readonly backend: KernelBackend;
  /** The path that loaded. */
  readonly path: string;
  /**
   * Its symbols (ffi/kernels.ts); check every status with checkKernelStatus.
   *
   * @ignore
   */
  readonly symbols: KernelSymbols;
}

const loaded = new Map<KernelBackend, KernelLibrary>();

/** Where `make build` puts each build, next to this module's package root. */
function builtLibraryPath(backend: KernelBackend): string[] {
  const url = new URL(`../../build/libgpumem_kernels_${backend}.so`, import.meta.url);
  return url.protocol === "file:" ? [decodeURIComponent(url.pathname)] : [];
}

/**
 * The kernel library for `backend`, loaded once. Throws KernelLibraryUnavailableError listing
 * what it tried (run `make build`, or point the environment variable at a built library).
 */
export function kernelLibrary(backend: KernelBackend): KernelLibrary {
  let library = loaded.get(backend);
  if (!library) {
    library = loadKernelLibrary(backend);
    loaded.set(backend, library);
  }
  return library;
}

/**
 * Loads the kernel library for `backend` now, reading its environment variable afresh, without
 * touching the cached one (see {@linkcode kernelLibrary}). Checks the build's backend and ABI.
 */
export function loadKernelLibrary(backend: KernelBackend): KernelLibrary {
  const result = openLibrary(kernelSymbols, KERNEL_LIBRARY_ENV[backend], builtLibraryPath(backend));
  if (!result.ok) {
    throw new KernelLibraryUnavailableError(
      `the ${backend} kernel library could not be loaded (build it with \`make build\` or set ` +
        `${KERNEL_LIBRARY_ENV[backend]}); tried:`,
      result.attempts,
    );
  }
  const symbols = result.library.symbols;
  const abi = symbols.gm_abi_version();
  const actual: KernelBackend = symbols.gm_backend() === 1 ? "cuda" : "cpu";
  if (abi !== KERNEL_ABI_VERSION || actual !== backend) {
    result.library.close();
    throw new GpumemError(
      `${result.path} is a ${actual} build of ABI ${abi}; expected a ${backend} build of ABI ` +
        `${KERNEL_ABI_VERSION} (rebuild with \`make build\`)`,
    );
  }
  return { backend, path: result.path, symbols };
}

/** Throws GpumemError with the library's own message when `status` is not OK. */
export function checkKernelStatus(library: KernelLibrary, status: number, call: string): void {
  if (status === KernelStatus.OK) return;
  const message = library.symbols.gm_last_error();
  const text = message === null ? "" : Deno.UnsafePointerView.getCString(message);
  throw new GpumemError(`${call} failed (status ${status}): ${text}`);
}
