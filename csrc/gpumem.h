/* gpumem kernel library: the C ABI that ffi/kernels.ts binds.
 *
 * Every entry point returns an int status (GM_OK or one of the codes below); on failure the
 * calling thread's last-error string (gm_last_error) says what went wrong. Device addresses are
 * uint64_t; on the CPU build they are host addresses. CUDA entry points take the device ordinal
 * and make its primary context current themselves (restoring the caller's device after), because
 * Deno may call them from any thread. */
#ifndef GPUMEM_H
#define GPUMEM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gm_status {
  GM_OK = 0,
  GM_INVALID_ARGUMENT = 1,
  GM_CUDA_ERROR = 2,
  GM_INJECTED_FAULT = 3, /* a piece failed on purpose (gm_stager_run's fail_pieces) */
};

enum gm_backend {
  GM_BACKEND_CPU = 0,
  GM_BACKEND_CUDA = 1,
};

/* The ABI version: bumped on any incompatible change; ffi/kernels.ts checks it. */
#define GM_ABI_VERSION 3

int gm_abi_version(void);
/* GM_BACKEND_CPU or GM_BACKEND_CUDA: which build this library is. */
int gm_backend(void);
/* The calling thread's last error message ("" when none). Valid until the thread's next call. */
const char *gm_last_error(void);

/* y[i] = a * x[i] + y[i] for i < n, float32. Ordered on `stream` (a CUstream; NULL for the legacy
 * default stream) and asynchronous on the CUDA build; done on return on the CPU build. */
int gm_axpy_f32(int device, uint64_t n, float a, uint64_t x, uint64_t y, void *stream);

/* Staged copies (csrc/staged_copy.h says how). Creates a stager in *out (an opaque handle) whose
 * transfers run on `threads` threads: the caller's and threads - 1 of its own, which poll for
 * `spin_us` microseconds after a transfer before they sleep. `driver_library`: the path of the
 * CUDA driver library to call, with `context` the CUcontext its threads use; NULL for a
 * host-only stager (the cpu device). */
int gm_stager_create(const char *driver_library, void *context, int threads, int spin_us,
                     uint64_t *out);
/* Stops the threads and frees the stager; no transfer may be running. */
int gm_stager_destroy(uint64_t stager);
/* Moves `bytes` between pageable `host` memory and `device` in pieces through pinned staging
 * slots (`slots`: the addresses gm_stage_plan counts, each as large as it says), queuing the
 * DMAs on `stream`; to_device: 1 host to device, 0 device to host. Pieces grow from
 * `first_piece` bytes to `piece`; every thread copies a slice of each piece. Returns once every
 * piece is done, or after a failure once nothing it queued still runs; `report` (4 uint64_t,
 * struct gm_stage_report) says how far it got and what failed. `fail_pieces` (NULL, or one byte
 * per piece) makes the marked pieces fail, for tests. One run at a time per stager. */
int gm_stager_run(uint64_t stager, int to_device, void *host, uint64_t device, uint64_t bytes,
                  uint64_t first_piece, uint64_t piece, const uint64_t *slots, void *stream,
                  const uint8_t *fail_pieces, uint64_t *report);
/* How gm_stager_run cuts `bytes`: plan[0] pieces, plan[1] staging slots it needs, plan[2] bytes
 * each slot must hold (the largest piece). */
int gm_stage_plan(uint64_t bytes, uint64_t first_piece, uint64_t piece, uint64_t *plan);

#ifdef __cplusplus
}
#endif

#endif
