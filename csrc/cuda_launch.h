/* Launch geometry and the launch check every CUDA kernel file of the build shares. */
#ifndef GPUMEM_CUDA_LAUNCH_H
#define GPUMEM_CUDA_LAUNCH_H

#include <stdint.h>

#include "cuda_scope.h"

/* Blocks of `threads` covering n items (at least 1, at most the grid's x limit; kernels loop
 * with GM_FOR_EACH past it). */
inline unsigned gm_blocks_for(uint64_t n, unsigned threads) {
  uint64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 0x7FFFFFFFu ? 0x7FFFFFFFu : b));
}

/* A grid-stride loop over [0, n). */
#define GM_FOR_EACH(i, n)                                                                   \
  for (uint64_t i = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<uint64_t>(gridDim.x) * blockDim.x)

/* The last launch's error as the thread's status (`what` names it), GM_OK when none. */
inline int gm_launch_check(const char *what) {
  cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? gm_ok() : gm_cuda_failure(what, error);
}

#endif
