/**
 * The compiled kernel library (csrc/) as one declarative `Deno.dlopen` table. The CPU and CUDA
 * builds export the same symbols; csrc/gpumem.h is the C side of this table.
 *
 * @module
 */

/** Symbol table for libgpumem_kernels_{cpu,cuda}.so. */
export const kernelSymbols = {
  /** int gm_abi_version(void) */
  gm_abi_version: { parameters: [], result: "i32" },
  /** int gm_backend(void): 0 for the CPU build, 1 for the CUDA build */
  gm_backend: { parameters: [], result: "i32" },
  /** const char *gm_last_error(void): the calling thread's last error message */
  gm_last_error: { parameters: [], result: "pointer" },
  /** int gm_axpy_f32(int device, uint64_t n, float a, uint64_t x, uint64_t y, void *stream) */
  gm_axpy_f32: {
    parameters: [
      "i32", /* int device: CUDA ordinal (ignored by the CPU build) */
      "u64", /* uint64_t n: elements */
      "f32", /* float a */
      "u64", /* uint64_t x: address of n floats */
      "u64", /* uint64_t y: address of n floats, updated in place */
      "pointer", /* void *stream: CUstream, NULL for the legacy default stream */
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened kernel library's symbols. */
export type KernelSymbols = Deno.DynamicLibrary<typeof kernelSymbols>["symbols"];

/** The ABI version this table matches (GM_ABI_VERSION in csrc/gpumem.h). */
export const KERNEL_ABI_VERSION = 1;

/** Status codes of the kernel library (enum gm_status in csrc/gpumem.h). */
export const KernelStatus = {
  OK: 0,
  INVALID_ARGUMENT: 1,
  CUDA_ERROR: 2,
} as const;
