/* The precisions of an L2 tile: exact float differences, or the expansion on tensor cores with
 * inputs rounded to tf32, bf16 or fp16 (float accumulation). */
#ifndef GPUMEM_L2_TENSOR_H
#define GPUMEM_L2_TENSOR_H

#include <stdint.h>

enum gm_precision {
  GM_PRECISION_FP32 = 0,
  GM_PRECISION_TF32 = 1,
  GM_PRECISION_BF16 = 2,
  GM_PRECISION_FP16 = 3,
};

#if defined(__CUDACC__)
#include <cuda_runtime.h>
/* A tensor-core tile (l2_tensor_cuda.cu); arguments as gm_l2_tile's, checked by it. */
int gm_l2_tensor_tile(int precision, uint64_t queries, uint64_t q_count, uint64_t corpus,
                      uint64_t n_count, uint32_t dim, int f64, uint64_t centre, int squared,
                      uint64_t out, uint64_t ld, cudaStream_t stream);
#endif

#endif
