/**
 * The compiled kernel library (csrc/) as one declarative `Deno.dlopen` table. The CPU and CUDA
 * builds export the same symbols; csrc/gpumem.h is the C side of this table.
 *
 * @module
 */

/** The parameters of gm_stager_run, bound twice (on a worker thread, and on the caller's). */
const stagerRunParameters = [
  "u64", /* uint64_t stager */
  "i32", /* int to_device: 1 host to device, 0 device to host */
  "buffer", /* void *host: the pageable bytes */
  "u64", /* uint64_t device: device address (a host address on the cpu device) */
  "u64", /* uint64_t bytes */
  "u64", /* uint64_t first_piece: bytes of the first piece */
  "u64", /* uint64_t piece: bytes of the largest piece (the staging slots' size) */
  "buffer", /* const uint64_t *slots: pinned staging addresses, as gm_stage_plan says */
  "pointer", /* void *stream: CUstream the DMAs go to (NULL when host-only) */
  "buffer", /* const uint8_t *fail_pieces: NULL, or one byte per piece (nonzero: fails) */
  "buffer", /* uint64_t *report: struct gm_stage_report (4 uint64_t) */
] as const;

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
  /** int gm_stager_create(const char *driver_library, void *context, int threads, int spin_us, uint64_t *out) */
  gm_stager_create: {
    parameters: [
      "buffer", /* const char *driver_library: NUL-terminated path; NULL for a host-only stager */
      "pointer", /* void *context: CUcontext the stager's threads use (NULL when host-only) */
      "i32", /* int threads: workers per transfer, the caller's thread included */
      "i32", /* int spin_us: how long idle threads poll for the next transfer before sleeping */
      "buffer", /* uint64_t *out: the stager's handle */
    ],
    result: "i32",
  },
  /** int gm_stager_destroy(uint64_t stager) */
  gm_stager_destroy: { parameters: ["u64" /* uint64_t stager */], result: "i32" },
  /**
   * int gm_stager_run(uint64_t stager, int to_device, void *host, uint64_t device, uint64_t bytes,
   * uint64_t first_piece, uint64_t piece, const uint64_t *slots, void *stream,
   * const uint8_t *fail_pieces, uint64_t *report), on a worker thread (a Promise). Its
   * gm_last_error is that thread's, so failures are read from `report`.
   */
  gm_stager_run: { parameters: stagerRunParameters, result: "i32", nonblocking: true },
  /** gm_stager_run on the calling thread: a worker-thread hop costs more than a small transfer. */
  gm_stager_run_here: { name: "gm_stager_run", parameters: stagerRunParameters, result: "i32" },
  /** int gm_stage_plan(uint64_t bytes, uint64_t first_piece, uint64_t piece, uint64_t *plan) */
  gm_stage_plan: {
    parameters: [
      "u64", /* uint64_t bytes */
      "u64", /* uint64_t first_piece */
      "u64", /* uint64_t piece */
      "buffer", /* uint64_t *plan: pieces, staging slots, bytes per slot */
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened kernel library's symbols. */
export type KernelSymbols = Deno.DynamicLibrary<typeof kernelSymbols>["symbols"];

/** The ABI version this table matches (GM_ABI_VERSION in csrc/gpumem.h). */
export const KERNEL_ABI_VERSION = 3;

/** Status codes of the kernel library (enum gm_status in csrc/gpumem.h). */
export const KernelStatus = {
  OK: 0,
  INVALID_ARGUMENT: 1,
  CUDA_ERROR: 2,
  INJECTED_FAULT: 3,
} as const;

/** enum gm_stage_call (csrc/staged_copy.h): the driver call a failed staged copy names. */
export const STAGE_CALL_NAMES: readonly string[] = [
  "",
  "cuCtxSetCurrent",
  "cuMemcpyHtoDAsync_v2",
  "cuMemcpyDtoHAsync_v2",
  "cuEventCreate",
  "cuEventRecord",
  "cuEventSynchronize",
];
