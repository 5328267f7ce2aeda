/* L2 tiles on tensor cores (precisions tf32, bf16, fp16; l2_steps.h): the expansion
 * |a|^2 + |b|^2 - 2 a.b with the products on WMMA fragments (float accumulators) and both norms
 * taken from the same rounded values the tensor cores multiply, so that a vector's distance to
 * itself is 0. A block computes 128 x 128 distances with 8 warps of 32 x 64, staging each
 * dimension step through shared memory. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include "../cuda_launch.h"
#include "../status.h"
#include "l2_steps.h"
#include "l2_tensor.h"

namespace {

using namespace nvcuda;

constexpr int kTile = 128;

/* What a precision stages and multiplies: the element type in shared memory, the fragment's
 * precision tag, the dimensions a fragment covers, the dimensions a stage holds. */
template <int P>
struct TensorTraits;
template <>
struct TensorTraits<GM_PRECISION_TF32> {
  using Stored = float;
  using Fragment = wmma::precision::tf32;
  static constexpr int kFragmentK = 8, kStep = 16;
  static __device__ float round(float v) { return wmma::__float_to_tf32(v); }
  static __device__ float value(Stored v) { return v; }
};
template <>
struct TensorTraits<GM_PRECISION_BF16> {
  using Stored = __nv_bfloat16;
  using Fragment = __nv_bfloat16;
  static constexpr int kFragmentK = 16, kStep = 32;
  static __device__ Stored round(float v) { return __float2bfloat16_rn(v); }
  static __device__ float value(Stored v) { return __bfloat162float(v); }
};
template <>
struct TensorTraits<GM_PRECISION_FP16> {
  using Stored = __half;
  using Fragment = __half;
  static constexpr int kFragmentK = 16, kStep = 32;
  static __device__ Stored round(float v) { return __float2half_rn(v); }
  static __device__ float value(Stored v) { return __half2float(v); }
};

/* A thread's share of a stage: dimension threadIdx % step of rows threadIdx / step + pass *
 * (256 / step), the same rows at every step, so that its share of those rows' norms stays in
 * registers. Fetched from global memory into registers first, so that the loads of the next stage
 * are in flight while the tensor cores work on this one. */
template <int P, typename V>
__device__ void fetch(const V *data, uint64_t rows, uint32_t dim, const double *centre,
                      uint64_t row0, uint32_t k0, float *values) {
  constexpr int step = TensorTraits<P>::kStep, per_pass = 256 / step;
  const int kk = threadIdx.x % step, first = threadIdx.x / step;
#pragma unroll
  for (int pass = 0; pass < kTile / per_pass; pass++) {
    uint64_t row = row0 + first + pass * per_pass;
    uint32_t k = k0 + kk;
    values[pass] = row < rows && k < dim ? gm_vector_value(data, row * dim + k, centre, k) : 0.0f;
  }
}

/* Rounds the fetched values into stage buffer s[row * ld + k] and adds their squares (as
 * rounded) to the thread's norm shares. */
template <int P>
__device__ void put(const float *values, typename TensorTraits<P>::Stored *s, int ld,
                    float *norm_share) {
  using T = TensorTraits<P>;
  constexpr int step = T::kStep, per_pass = 256 / step;
  const int kk = threadIdx.x % step, first = threadIdx.x / step;
#pragma unroll
  for (int pass = 0; pass < kTile / per_pass; pass++) {
    typename T::Stored rounded = T::round(values[pass]);
    float back = T::value(rounded);
    norm_share[pass] = fmaf(back, back, norm_share[pass]);
    s[(first + pass * per_pass) * ld + kk] = rounded;
  }
}

/* Dynamic shared memory of a block: two stages of both operands, then both norms. */
template <int P>
constexpr size_t shared_bytes() {
  return 4 * kTile * (TensorTraits<P>::kStep + 8) * sizeof(typename TensorTraits<P>::Stored) +
         2 * kTile * sizeof(float);
}

/* Every loop over fragments unrolled: a fragment array indexed at run time lives in local
 * memory (the first version kept its accumulators there). */
template <int P, typename V>
__global__ void __launch_bounds__(256)
    l2_tensor_kernel(const V *queries, uint64_t q_count, const V *corpus, uint64_t n_count,
                     uint32_t dim, const double *centre, int squared, float *out, uint64_t ld) {
  using T = TensorTraits<P>;
  using Stored = typename T::Stored;
  constexpr int step = T::kStep, lds = step + 8, per_pass = 256 / step, passes = kTile / per_pass;
  constexpr int operand = kTile * lds; /* elements of one operand's stage */
  extern __shared__ __align__(32) unsigned char shared[];
  Stored *stages = reinterpret_cast<Stored *>(shared); /* [stage][query, corpus][operand] */
  float *qn = reinterpret_cast<float *>(shared + 4 * operand * sizeof(Stored)), *cn = qn + kTile;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int warp_m = warp / 2, warp_n = warp % 2; /* 4 x 2 warps of 32 x 64 */
  const uint64_t row0 = static_cast<uint64_t>(blockIdx.y) * kTile;
  const uint64_t col0 = static_cast<uint64_t>(blockIdx.x) * kTile;
  float q_share[passes], c_share[passes], q_next[passes], c_next[passes];
  #pragma unroll
  for (int p = 0; p < passes; p++) q_share[p] = 0.0f, c_share[p] = 0.0f;
  wmma::fragment<wmma::accumulator, 16, 16, T::kFragmentK, float> acc[2][4];
  #pragma unroll
  for (int i = 0; i < 2; i++) {
    #pragma unroll
    for (int j = 0; j < 4; j++) wmma::fill_fragment(acc[i][j], 0.0f);
  }
  fetch<P>(queries, q_count, dim, centre, row0, 0, q_next);
  fetch<P>(corpus, n_count, dim, centre, col0, 0, c_next);
  put<P>(q_next, stages, lds, q_share);
  put<P>(c_next, stages + operand, lds, c_share);
  __syncthreads();
  int at = 0;
  for (uint32_t k0 = 0; k0 < dim; k0 += step, at ^= 1) {
    const bool more = k0 + step < dim;
    if (more) {
      fetch<P>(queries, q_count, dim, centre, row0, k0 + step, q_next);
      fetch<P>(corpus, n_count, dim, centre, col0, k0 + step, c_next);
    }
    const Stored *qs = stages + 2 * at * operand, *cs = qs + operand;
#pragma unroll
    for (int kk = 0; kk < step; kk += T::kFragmentK) {
      wmma::fragment<wmma::matrix_a, 16, 16, T::kFragmentK, typename T::Fragment, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, T::kFragmentK, typename T::Fragment, wmma::col_major> b[4];
      #pragma unroll
      for (int i = 0; i < 2; i++) {
        wmma::load_matrix_sync(a[i], qs + (warp_m * 32 + i * 16) * lds + kk, lds);
      }
      #pragma unroll
      for (int j = 0; j < 4; j++) {
        wmma::load_matrix_sync(b[j], cs + (warp_n * 64 + j * 16) * lds + kk, lds);
      }
      #pragma unroll
      for (int i = 0; i < 2; i++) {
        #pragma unroll
        for (int j = 0; j < 4; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
      }
    }
    /* The other stage was last read before the previous barrier: it is free to fill. */
    if (more) {
      Stored *next = stages + 2 * (at ^ 1) * operand;
      put<P>(q_next, next, lds, q_share);
      put<P>(c_next, next + operand, lds, c_share);
    }
    __syncthreads();
  }
  /* Norms: the threads of a row's dimensions are consecutive lanes of one warp. */
  #pragma unroll
  for (int p = 0; p < passes; p++) {
    float qv = q_share[p], cv = c_share[p];
    for (int offset = step / 2; offset > 0; offset /= 2) {
      qv += __shfl_down_sync(0xFFFFFFFFu, qv, offset, step);
      cv += __shfl_down_sync(0xFFFFFFFFu, cv, offset, step);
    }
    if (threadIdx.x % step == 0) {
      int r = threadIdx.x / step + p * per_pass;
      qn[r] = qv, cn[r] = cv;
    }
  }
  __syncthreads();
  /* The stages are done with: each warp's 16 x 16 of results goes through its own part. */
  float *mine = reinterpret_cast<float *>(shared) + warp * 256;
  #pragma unroll
  for (int i = 0; i < 2; i++) {
    #pragma unroll
    for (int j = 0; j < 4; j++) {
      wmma::store_matrix_sync(mine, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        int r = warp_m * 32 + i * 16 + e / 16, c = warp_n * 64 + j * 16 + e % 16;
        uint64_t row = row0 + r, col = col0 + c;
        if (row < q_count && col < n_count) {
          float d2 = fmaxf(qn[r] + cn[c] - 2.0f * mine[e], 0.0f);
          out[row * ld + col] = squared ? d2 : sqrtf(d2);
        }
      }
      __syncwarp();
    }
  }
}

template <int P, typename V>
void launch(const V *queries, uint64_t q_count, const V *corpus, uint64_t n_count, uint32_t dim,
            const double *centre, int squared, float *out, uint64_t ld, cudaStream_t s) {
  dim3 grid(static_cast<unsigned>((n_count + kTile - 1) / kTile),
            static_cast<unsigned>((q_count + kTile - 1) / kTile));
  constexpr size_t bytes = shared_bytes<P>();
  static_assert(bytes >= 8 * 256 * sizeof(float), "the epilogue's results fit in the stages");
  cudaFuncSetAttribute(l2_tensor_kernel<P, V>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                       static_cast<int>(bytes));
  l2_tensor_kernel<P, V><<<grid, 256, bytes, s>>>(queries, q_count, corpus, n_count, dim, centre,
                                                  squared, out, ld);
}

template <typename V>
void dispatch(int precision, const V *queries, uint64_t q_count, const V *corpus,
              uint64_t n_count, uint32_t dim, const double *centre, int squared, float *out,
              uint64_t ld, cudaStream_t s) {
  if (precision == GM_PRECISION_TF32) {
    launch<GM_PRECISION_TF32>(queries, q_count, corpus, n_count, dim, centre, squared, out, ld, s);
  } else if (precision == GM_PRECISION_BF16) {
    launch<GM_PRECISION_BF16>(queries, q_count, corpus, n_count, dim, centre, squared, out, ld, s);
  } else {
    launch<GM_PRECISION_FP16>(queries, q_count, corpus, n_count, dim, centre, squared, out, ld, s);
  }
}

}  // namespace

int gm_l2_tensor_tile(int precision, uint64_t queries, uint64_t q_count, uint64_t corpus,
                      uint64_t n_count, uint32_t dim, int f64, uint64_t centre, int squared,
                      uint64_t out, uint64_t ld, cudaStream_t s) {
  auto *c = reinterpret_cast<const double *>(centre);
  auto *o = reinterpret_cast<float *>(out);
  if (f64) {
    dispatch(precision, reinterpret_cast<const double *>(queries), q_count,
             reinterpret_cast<const double *>(corpus), n_count, dim, c, squared, o, ld, s);
  } else {
    dispatch(precision, reinterpret_cast<const float *>(queries), q_count,
             reinterpret_cast<const float *>(corpus), n_count, dim, c, squared, o, ld, s);
  }
  return gm_launch_check("gm_l2_tile (tensor cores)");
}
