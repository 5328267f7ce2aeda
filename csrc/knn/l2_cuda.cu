/* The CUDA build of brute-force L2 (l2_steps.h): a register-blocked tile kernel for fp32 blocks
 * under GM_L2_MMA_MIN_DIM dimensions (the rest go to l2_mma_cuda.cu), and a warp-per-query
 * selection that folds a block into each query's running k best (a candidate buffer in shared
 * memory, merged by a bitonic sort when it fills). Ordered on the caller's stream in memory the
 * caller handed in. */
#include "../cuda_launch.h"
#include "../gpumem.h"
#include "../status.h"
#include "l2_steps.h"
#include "l2_tensor.h"

namespace {

constexpr int kTile = 128;    /* rows and columns of a block's distance tile */
constexpr int kStep = 8;      /* dimensions a shared-memory stage holds */
constexpr int kPerThread = 8; /* rows and columns of a thread's share: 16 x 16 threads */

/* Loads a kTile x kStep stage of rows [row0, row0 + kTile) x dims [k0, k0 + kStep) into
 * s[dim][row], zero past the ends (a zero difference adds nothing). */
template <typename V>
__device__ void load_stage(const V *data, uint64_t rows, uint32_t dim, const double *centre,
                           uint64_t row0, uint32_t k0, float (*s)[kTile + 4]) {
  for (int e = threadIdx.x; e < kTile * kStep; e += blockDim.x) {
    int r = e / kStep, kk = e % kStep;
    uint64_t row = row0 + r;
    uint32_t k = k0 + kk;
    s[kk][r] = row < rows && k < dim ? gm_vector_value(data, row * dim + k, centre, k) : 0.0f;
  }
}

template <typename V>
__global__ void __launch_bounds__(256)
    l2_tile_kernel(const V *queries, uint64_t q_count, const V *corpus, uint64_t n_count,
                   uint32_t dim, const double *centre, int squared, float *out, uint64_t ld) {
  __shared__ float qs[kStep][kTile + 4], cs[kStep][kTile + 4];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const uint64_t row0 = static_cast<uint64_t>(blockIdx.y) * kTile;
  const uint64_t col0 = static_cast<uint64_t>(blockIdx.x) * kTile;
  float acc[kPerThread][kPerThread];
  for (int i = 0; i < kPerThread; i++) {
    for (int j = 0; j < kPerThread; j++) acc[i][j] = 0.0f;
  }
  for (uint32_t k0 = 0; k0 < dim; k0 += kStep) {
    load_stage(queries, q_count, dim, centre, row0, k0, qs);
    load_stage(corpus, n_count, dim, centre, col0, k0, cs);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kStep; kk++) {
      float a[kPerThread], b[kPerThread];
#pragma unroll
      for (int i = 0; i < kPerThread; i++) a[i] = qs[kk][ty + 16 * i], b[i] = cs[kk][tx + 16 * i];
#pragma unroll
      for (int i = 0; i < kPerThread; i++) {
#pragma unroll
        for (int j = 0; j < kPerThread; j++) acc[i][j] = gm_l2_accumulate(acc[i][j], a[i], b[j]);
      }
    }
    __syncthreads();
  }
  for (int i = 0; i < kPerThread; i++) {
    uint64_t row = row0 + ty + 16 * i;
    if (row >= q_count) continue;
    for (int j = 0; j < kPerThread; j++) {
      uint64_t col = col0 + tx + 16 * j;
      if (col < n_count) out[row * ld + col] = squared ? acc[i][j] : sqrtf(acc[i][j]);
    }
  }
}

/* Column sums of the corpus (in double), scaled to means, into centre (zeroed first). */
template <typename V>
__global__ void centre_kernel(const V *corpus, uint64_t n, uint32_t dim, uint64_t rows_per_block,
                              double *centre) {
  uint64_t begin = blockIdx.x * rows_per_block;
  uint64_t end = begin + rows_per_block < n ? begin + rows_per_block : n;
  for (uint32_t k = threadIdx.x; k < dim; k += blockDim.x) {
    double sum = 0;
    for (uint64_t r = begin; r < end; r++) sum += static_cast<double>(corpus[r * dim + k]);
    atomicAdd(&centre[k], sum / static_cast<double>(n));
  }
}

/* Sorts a warp's 2p pairs in shared memory ascending by (distance, index). */
__device__ void warp_sort(float *d, uint32_t *id, int n) {
  const int lane = threadIdx.x & 31;
  for (int size = 2; size <= n; size *= 2) {
    for (int stride = size / 2; stride > 0; stride /= 2) {
      for (int t = lane; t < n / 2; t += 32) {
        int i = 2 * stride * (t / stride) + t % stride, j = i + stride;
        bool ascending = (i & size) == 0;
        bool swap = gm_pair_less(d[j], id[j], d[i], id[i]) == ascending;
        if (swap) {
          float td = d[i];
          d[i] = d[j], d[j] = td;
          uint32_t ti = id[i];
          id[i] = id[j], id[j] = ti;
        }
      }
      __syncwarp();
    }
  }
}

/* One warp a query row: the row's admitted pairs go to a buffer of p beside the p best; a full
 * buffer is merged by sorting all 2p and keeping the first p. */
__global__ void select_kernel(const float *tile, uint64_t ld, uint64_t q_count, uint64_t n_count,
                              uint64_t corpus_base, uint64_t query_base, int k, int p, int flags,
                              float *best_d, int32_t *best_i) {
  extern __shared__ unsigned char shared[];
  const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  uint64_t r = static_cast<uint64_t>(blockIdx.x) * warps + warp;
  if (r >= q_count) return;
  float *d = reinterpret_cast<float *>(shared) + warp * 2 * p;
  uint32_t *id = reinterpret_cast<uint32_t *>(reinterpret_cast<float *>(shared) + warps * 2 * p) +
                 warp * 2 * p;
  for (int j = lane; j < 2 * p; j += 32) {
    bool kept = j < k && !(flags & GM_SELECT_FIRST);
    d[j] = kept ? best_d[r * k + j] : INFINITY;
    id[j] = kept ? static_cast<uint32_t>(best_i[r * k + j]) : 0xFFFFFFFFu;
  }
  __syncwarp();
  float bound = d[k - 1];
  uint32_t bound_id = id[k - 1];
  int count = 0;
  const float *row = tile + r * ld;
  const uint64_t self = query_base + r;
  /* kAhead loads a lane in flight before the first is looked at: one at a time, the warp waited
   * out each load's latency (the selection ran at a tenth of the memory's bandwidth). */
  constexpr int kAhead = 8;
  for (uint64_t block = 0; block < n_count; block += 32 * kAhead) {
    float ahead[kAhead];
#pragma unroll
    for (int u = 0; u < kAhead; u++) {
      uint64_t j = block + 32 * u + lane;
      ahead[u] = j < n_count ? row[j] : INFINITY;
    }
#pragma unroll
    for (int u = 0; u < kAhead; u++) {
      uint64_t j = block + 32 * u + lane;
      float dist = ahead[u];
      uint32_t index = static_cast<uint32_t>(corpus_base + j);
      bool skip = j >= n_count || ((flags & GM_SELECT_EXCLUDE_SELF) && corpus_base + j == self);
      bool admitted = !skip && gm_pair_less(dist, index, bound, bound_id);
      unsigned mask = __ballot_sync(0xFFFFFFFFu, admitted);
      if (count + __popc(mask) > p) {
        for (int t = count + lane; t < p; t += 32) d[p + t] = INFINITY, id[p + t] = 0xFFFFFFFFu;
        __syncwarp();
        warp_sort(d, id, 2 * p);
        bound = d[k - 1], bound_id = id[k - 1];
        count = 0;
        admitted = !skip && gm_pair_less(dist, index, bound, bound_id);
        mask = __ballot_sync(0xFFFFFFFFu, admitted);
      }
      if (admitted) {
        int at = count + __popc(mask & ((1u << lane) - 1));
        d[p + at] = dist, id[p + at] = index;
      }
      count += __popc(mask);
      __syncwarp();
    }
  }
  if (count > 0) {
    for (int t = count + lane; t < p; t += 32) d[p + t] = INFINITY, id[p + t] = 0xFFFFFFFFu;
    __syncwarp();
    warp_sort(d, id, 2 * p);
  }
  const bool last = flags & GM_SELECT_LAST;
  for (int j = lane; j < k; j += 32) {
    bool hit = id[j] != 0xFFFFFFFFu;
    best_d[r * k + j] = last ? (hit ? sqrtf(d[j]) : INFINITY) : d[j];
    best_i[r * k + j] = hit ? static_cast<int32_t>(id[j]) : -1;
  }
}

}  // namespace

extern "C" int gm_vectors_centre(int device, uint64_t corpus, uint64_t n, uint32_t dim, int f64,
                                 uint64_t centre, void *stream) {
  if (centre == 0 || dim == 0 || (n > 0 && corpus == 0)) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_vectors_centre: null address or zero dimension");
  }
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto *c = reinterpret_cast<double *>(centre);
  cudaError_t error = cudaMemsetAsync(c, 0, dim * sizeof(double), s);
  if (error != cudaSuccess) return gm_cuda_failure("cudaMemsetAsync", error);
  if (n == 0) return gm_ok();
  const uint64_t rows = 256;
  unsigned blocks = static_cast<unsigned>((n + rows - 1) / rows);
  unsigned threads = dim < 256 ? ((dim + 31) / 32) * 32 : 256;
  if (f64) {
    centre_kernel<<<blocks, threads, 0, s>>>(reinterpret_cast<const double *>(corpus), n, dim,
                                             rows, c);
  } else {
    centre_kernel<<<blocks, threads, 0, s>>>(reinterpret_cast<const float *>(corpus), n, dim,
                                             rows, c);
  }
  return gm_launch_check("gm_vectors_centre");
}

extern "C" int gm_l2_tile(int device, uint64_t queries, uint64_t q_count, uint64_t corpus,
                          uint64_t n_count, uint32_t dim, int f64, uint64_t centre, int squared,
                          int precision, uint64_t out, uint64_t ld, void *stream) {
  bool missing = q_count > 0 && n_count > 0 && (queries == 0 || corpus == 0 || out == 0);
  if (dim == 0 || ld < n_count || missing || q_count > 65535ull * kTile ||
      n_count > 0x7FFFFFFFull * kTile || precision < GM_PRECISION_FP32 ||
      precision > GM_PRECISION_FP16) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_l2_tile: bad dimension, sizes or null address");
  }
  if (q_count == 0 || n_count == 0) return gm_ok();
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (precision != GM_PRECISION_FP32 || dim >= GM_L2_MMA_MIN_DIM) {
    return gm_l2_mma_tile(precision, queries, q_count, corpus, n_count, dim, f64, centre, squared,
                          out, ld, s);
  }
  dim3 grid(static_cast<unsigned>((n_count + kTile - 1) / kTile),
            static_cast<unsigned>((q_count + kTile - 1) / kTile));
  auto *c = reinterpret_cast<const double *>(centre);
  auto *o = reinterpret_cast<float *>(out);
  if (f64) {
    l2_tile_kernel<<<grid, 256, 0, s>>>(reinterpret_cast<const double *>(queries), q_count,
                                        reinterpret_cast<const double *>(corpus), n_count, dim, c,
                                        squared, o, ld);
  } else {
    l2_tile_kernel<<<grid, 256, 0, s>>>(reinterpret_cast<const float *>(queries), q_count,
                                        reinterpret_cast<const float *>(corpus), n_count, dim, c,
                                        squared, o, ld);
  }
  return gm_launch_check("gm_l2_tile");
}

extern "C" int gm_knn_select(int device, uint64_t tile, uint64_t ld, uint64_t q_count,
                             uint64_t n_count, uint64_t corpus_base, uint64_t query_base,
                             uint32_t k, int flags, uint64_t best_d, uint64_t best_i,
                             void *stream) {
  if (k < 1 || k > GM_VECTOR_MAX_K || ld < n_count || corpus_base + n_count > 0xFFFFFFFFull ||
      (q_count > 0 && (best_d == 0 || best_i == 0 || (n_count > 0 && tile == 0)))) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_knn_select: bad k, sizes or null address");
  }
  if (q_count == 0) return gm_ok();
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  int p = 32;
  while (p < static_cast<int>(k)) p *= 2;
  int warps = p >= 1024 ? 2 : 4;
  size_t shared = static_cast<size_t>(warps) * 2 * p * (sizeof(float) + sizeof(uint32_t));
  unsigned blocks = static_cast<unsigned>((q_count + warps - 1) / warps);
  select_kernel<<<blocks, warps * 32, shared, s>>>(
      reinterpret_cast<const float *>(tile), ld, q_count, n_count, corpus_base, query_base,
      static_cast<int>(k), p, flags, reinterpret_cast<float *>(best_d),
      reinterpret_cast<int32_t *>(best_i));
  return gm_launch_check("gm_knn_select");
}
