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

/* From this many dimensions the CUDA build computes fp32 tiles on tensor cores (three tf32
 * products a pair, l2_mma_cuda.cu); below it, and in the CPU build, from differences. */
#define GM_L2_MMA_MIN_DIM 64

#if defined(__CUDACC__)
#include <cuda_runtime.h>
/* A tile on tensor cores (l2_mma_cuda.cu): tf32, bf16, fp16, or fp32 as three tf32 products;
 * arguments as gm_l2_tile's, checked by it. */
int gm_l2_mma_tile(int precision, uint64_t queries, uint64_t q_count, uint64_t corpus,
                   uint64_t n_count, uint32_t dim, int f64, uint64_t centre, int squared,
                   uint64_t out, uint64_t ld, cudaStream_t stream);
#endif

#endif
