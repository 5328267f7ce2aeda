/* L2 tiles on tensor cores (precisions tf32, bf16, fp16; l2_steps.h): the expansion
 * |a|^2 + |b|^2 - 2 a.b with the products on WMMA fragments (float accumulators) and both norms
 * taken from the same rounded values the tensor cores multiply, so that a vector's distance to
 * itself is 0. A block computes 128 x 128 distances with 8 warps of 32 x 64, staging each
 * dimension step through shared memory. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include "../cuda_scope.h"
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

/* Stages rows [row0, row0 + kTile) x dims [k0, k0 + step) into s[row][k] (rounded, zero past the
 * ends), adding each staged value's square to this thread's share of its row's norm: thread
 * lane of warp w stages dimension lane % step of rows w * (32 / step) + ..., the same rows at
 * every step. */
template <int P, typename V>
__device__ void stage(const V *data, uint64_t rows, uint32_t dim, const double *centre,
                      uint64_t row0, uint32_t k0, typename TensorTraits<P>::Stored *s, int ld,
                      float *norm_share) {
  using T = TensorTraits<P>;
  constexpr int step = T::kStep, per_pass = 256 / step;
  const int kk = threadIdx.x % step, first = threadIdx.x / step;
#pragma unroll
  for (int pass = 0; pass < kTile / per_pass; pass++) {
    int r = first + pass * per_pass;
    uint64_t row = row0 + r;
    uint32_t k = k0 + kk;
    float v = row < rows && k < dim ? gm_vector_value(data, row * dim + k, centre, k) : 0.0f;
    typename T::Stored rounded = T::round(v);
    float back = T::value(rounded);
    norm_share[pass] = fmaf(back, back, norm_share[pass]);
    s[r * ld + kk] = rounded;
  }
}

template <int P, typename V>
__global__ void __launch_bounds__(256)
    l2_tensor_kernel(const V *queries, uint64_t q_count, const V *corpus, uint64_t n_count,
                     uint32_t dim, const double *centre, int squared, float *out, uint64_t ld) {
  using T = TensorTraits<P>;
  using Stored = typename T::Stored;
  constexpr int step = T::kStep, lds = step + 8, per_pass = 256 / step, passes = kTile / per_pass;
  __shared__ __align__(32) Stored qs[kTile * lds];
  __shared__ __align__(32) Stored cs[kTile * lds];
  __shared__ __align__(32) float scratch[8][16 * 16];
  __shared__ float qn[kTile], cn[kTile];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int warp_m = warp / 2, warp_n = warp % 2; /* 4 x 2 warps of 32 x 64 */
  const uint64_t row0 = static_cast<uint64_t>(blockIdx.y) * kTile;
  const uint64_t col0 = static_cast<uint64_t>(blockIdx.x) * kTile;
  if (threadIdx.x < kTile) qn[threadIdx.x] = 0.0f, cn[threadIdx.x] = 0.0f;
  float q_share[passes], c_share[passes];
  for (int p = 0; p < passes; p++) q_share[p] = 0.0f, c_share[p] = 0.0f;
  wmma::fragment<wmma::accumulator, 16, 16, T::kFragmentK, float> acc[2][4];
  for (int i = 0; i < 2; i++) {
    for (int j = 0; j < 4; j++) wmma::fill_fragment(acc[i][j], 0.0f);
  }
  for (uint32_t k0 = 0; k0 < dim; k0 += step) {
    stage<P>(queries, q_count, dim, centre, row0, k0, qs, lds, q_share);
    stage<P>(corpus, n_count, dim, centre, col0, k0, cs, lds, c_share);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < step; kk += T::kFragmentK) {
      wmma::fragment<wmma::matrix_a, 16, 16, T::kFragmentK, typename T::Fragment, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, T::kFragmentK, typename T::Fragment, wmma::col_major> b[4];
      for (int i = 0; i < 2; i++) {
        wmma::load_matrix_sync(a[i], qs + (warp_m * 32 + i * 16) * lds + kk, lds);
      }
      for (int j = 0; j < 4; j++) {
        wmma::load_matrix_sync(b[j], cs + (warp_n * 64 + j * 16) * lds + kk, lds);
      }
      for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 4; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
      }
    }
    __syncthreads();
  }
  /* Norms: the threads of a row's dimensions are consecutive lanes of one warp. */
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
  float *mine = scratch[warp];
  for (int i = 0; i < 2; i++) {
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
  l2_tensor_kernel<P, V><<<grid, 256, 0, s>>>(queries, q_count, corpus, n_count, dim, centre,
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
  cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? gm_ok() : gm_cuda_failure("gm_l2_tile (tensor cores)", error);
}
