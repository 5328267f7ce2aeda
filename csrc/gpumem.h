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
};

enum gm_backend {
  GM_BACKEND_CPU = 0,
  GM_BACKEND_CUDA = 1,
};

/* The ABI version: bumped on any incompatible change; ffi/kernels.ts checks it. */
#define GM_ABI_VERSION 1

int gm_abi_version(void);
/* GM_BACKEND_CPU or GM_BACKEND_CUDA: which build this library is. */
int gm_backend(void);
/* The calling thread's last error message ("" when none). Valid until the thread's next call. */
const char *gm_last_error(void);

/* y[i] = a * x[i] + y[i] for i < n, float32. Ordered on `stream` (a CUstream; NULL for the legacy
 * default stream) and asynchronous on the CUDA build; done on return on the CPU build. */
int gm_axpy_f32(int device, uint64_t n, float a, uint64_t x, uint64_t y, void *stream);

#ifdef __cplusplus
}
#endif

#endif
