/* The CUDA build of the point index and its queries (point_index.h, point_query.h): each step a
 * kernel, CUB's radix sort for the Morton order, all ordered on the caller's stream in memory
 * the caller (gpumem's manager) handed in. Nothing here allocates. */
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "../cuda_launch.h"
#include "../gpumem.h"
#include "../status.h"
#include "point_layout.h"
#include "point_query.h"

namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kQueryThreads = 128;

__global__ void frame_init_kernel(GmPointFrame *frame) {
  for (int k = 0; k < 3; k++) {
    frame->lo[k] = gm_order_double(INFINITY);
    frame->hi[k] = gm_order_double(-INFINITY);
  }
  frame->nonfinite = 0;
  frame->reserved = 0;
}

/* Bounds of the finite coordinates and the count of the others: a warp's reduction, then one
 * atomic per warp and word. */
template <typename V>
__global__ void frame_kernel(const V *points, uint64_t n, GmPointFrame *frame) {
  double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  unsigned long long bad = 0;
  GM_FOR_EACH(i, n) {
    for (int k = 0; k < 3; k++) {
      double v = static_cast<double>(points[3 * i + k]);
      if (isfinite(v)) {
        lo[k] = fmin(lo[k], v), hi[k] = fmax(hi[k], v);
      } else {
        bad++;
      }
    }
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    for (int k = 0; k < 3; k++) {
      lo[k] = fmin(lo[k], __shfl_down_sync(0xFFFFFFFFu, lo[k], offset));
      hi[k] = fmax(hi[k], __shfl_down_sync(0xFFFFFFFFu, hi[k], offset));
    }
    bad += __shfl_down_sync(0xFFFFFFFFu, bad, offset);
  }
  if ((threadIdx.x & 31) == 0) {
    for (int k = 0; k < 3; k++) {
      atomicMin(reinterpret_cast<unsigned long long *>(&frame->lo[k]),
                static_cast<unsigned long long>(gm_order_double(lo[k])));
      atomicMax(reinterpret_cast<unsigned long long *>(&frame->hi[k]),
                static_cast<unsigned long long>(gm_order_double(hi[k])));
    }
    if (bad) atomicAdd(reinterpret_cast<unsigned long long *>(&frame->nonfinite), bad);
  }
}

template <typename P>
__global__ void order_kernel(P points, uint64_t n, const GmPointFrame *frame,
                             uint64_t *keys, uint32_t *values, unsigned long long *nonfinite) {
  GmPointGrid g = gm_point_grid(*frame);
  GM_FOR_EACH(i, n) {
    keys[i] = gm_point_code(g, points, i);
    values[i] = static_cast<uint32_t>(i);
    float local[3];
    if (!gm_point_local(g, points, i, local)) atomicAdd(nonfinite, 1ull);
  }
}

template <typename P>
__global__ void gather_kernel(P points, uint64_t n, const GmPointFrame *frame,
                              const uint32_t *order, GmPoint4 *sorted) {
  GmPointGrid g = gm_point_grid(*frame);
  GM_FOR_EACH(i, n) {
    float local[3];
    gm_point_local(g, points, order[i], local);
    sorted[i] = GmPoint4{local[0], local[1], local[2], order[i]};
  }
}

template <typename V>
__global__ void offsets_kernel(const V *points, uint64_t n, const GmPointFrame *frame, float *out) {
  GmPointGrid g = gm_point_grid(*frame);
  GM_FOR_EACH(i, n) gm_point_local(g, points, i, out + 3 * i);
}

__global__ void leaf_flags_kernel(const uint64_t *codes, uint64_t n, uint32_t *flags) {
  GM_FOR_EACH(i, n) flags[i] = gm_leaf_starts_at(codes, n, i);
}

__global__ void leaf_count_kernel(const uint32_t *flags, const uint32_t *leaf_of, uint64_t n,
                                  uint32_t *count) {
  *count = n == 0 ? 0 : leaf_of[n - 1] + flags[n - 1];
}

__global__ void leaf_starts_kernel(const uint32_t *flags, const uint32_t *leaf_of,
                                   const uint64_t *codes, uint64_t n, uint64_t leaves,
                                   uint32_t *starts, uint64_t *leaf_codes) {
  GM_FOR_EACH(i, n) {
    if (flags[i]) starts[leaf_of[i]] = static_cast<uint32_t>(i), leaf_codes[leaf_of[i]] = codes[i];
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) starts[leaves] = static_cast<uint32_t>(n);
}

__global__ void leaf_kernel(const GmPoint4 *points, const uint32_t *starts, uint64_t leaves,
                            uint64_t leaf_base, GmPointBox *nodes) {
  GM_FOR_EACH(b, leaf_base) nodes[leaf_base + b] = gm_leaf_box(points, starts, leaves, b);
}

/* Nodes [level, 2 * level): the union of their children. */
__global__ void level_kernel(uint64_t level, GmPointBox *nodes) {
  GM_FOR_EACH(j, level) {
    uint64_t i = level + j;
    nodes[i] = gm_box_union(nodes[2 * i], nodes[2 * i + 1]);
  }
}

template <int KCAP, typename V>
__global__ void __launch_bounds__(kQueryThreads)
    query_kernel(GmPointIndexView index, const V *queries, const uint32_t *order,
                 uint64_t count, int k, float radius2, int flags, uint64_t out_begin,
                 uint64_t out_end, int32_t *indices, float *distances, int32_t *counts,
                 float *features) {
  GM_FOR_EACH(i, count) {
    gm_point_query<KCAP>(index, queries, order, i, k, radius2, flags, out_begin, out_end,
                         indices, distances, counts, features);
  }
}

template <int KCAP, typename V>
void launch_query(const GmPointIndexView &index, const V *queries, const uint32_t *order,
                  uint64_t count, int k, float radius2, int flags, uint64_t out_begin,
                  uint64_t out_end, int32_t *indices, float *distances, int32_t *counts,
                  float *features, cudaStream_t s) {
  query_kernel<KCAP, V><<<gm_blocks_for(count, kQueryThreads), kQueryThreads, 0, s>>>(
      index, queries, order, count, k, radius2, flags, out_begin, out_end, indices, distances,
      counts, features);
}

/* The smallest list capacity that holds k: the walk's list lives in registers and local memory. */
template <typename V>
void dispatch_query(int k, const GmPointIndexView &index, const V *queries, const uint32_t *order,
                    uint64_t count, float radius2, int flags, uint64_t out_begin,
                    uint64_t out_end, int32_t *indices, float *distances, int32_t *counts,
                    float *features, cudaStream_t s) {
#define GM_QUERY_WITH(cap)                                                                  \
  launch_query<cap, V>(index, queries, order, count, k, radius2, flags, out_begin, out_end, \
                       indices, distances, counts, features, s)
  if (k <= 8) {
    GM_QUERY_WITH(8);
  } else if (k <= 16) {
    GM_QUERY_WITH(16);
  } else if (k <= 32) {
    GM_QUERY_WITH(32);
  } else if (k <= 64) {
    GM_QUERY_WITH(64);
  } else if (k <= 128) {
    GM_QUERY_WITH(128);
  } else {
    GM_QUERY_WITH(GM_POINT_MAX_K);
  }
#undef GM_QUERY_WITH
}

/* The sort's and the leaf scan's temporary storage: one region serves both, in turn. */
/* The sort takes its keys and values as double buffers (the scratch's two key arrays, its
 * values and the caller's order): its own storage is then a few histograms, where the
 * in-and-out form asked for another copy of both (12 B a point, 204 MB of a 17M-point build). */
uint64_t sort_temp_bytes(uint64_t n) {
  size_t sort = 0, scan = 0;
  cub::DoubleBuffer<uint64_t> keys(nullptr, nullptr);
  cub::DoubleBuffer<uint32_t> values(nullptr, nullptr);
  cub::DeviceRadixSort::SortPairs(nullptr, sort, keys, values, static_cast<int64_t>(n), 0,
                                  3 * GM_POINT_MORTON_BITS);
  cub::DeviceScan::ExclusiveSum(nullptr, scan, static_cast<const uint32_t *>(nullptr),
                                static_cast<uint32_t *>(nullptr), static_cast<int64_t>(n));
  return sort > scan ? sort : scan;
}

}  // namespace

extern "C" int gm_points_plan(uint64_t n, uint64_t leaves, uint64_t *plan) {
  return gm_fill_point_plan(n, leaves, sort_temp_bytes(n), plan);
}

extern "C" int gm_points_frame(int device, uint64_t points, uint64_t n, int f64, uint64_t frame,
                               void *stream) {
  if (frame == 0 || (n > 0 && points == 0)) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_frame: null frame or points");
  }
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto *f = reinterpret_cast<GmPointFrame *>(frame);
  frame_init_kernel<<<1, 1, 0, s>>>(f);
  if (n > 0) {
    unsigned blocks = gm_blocks_for(n, kThreads) < 1024 ? gm_blocks_for(n, kThreads) : 1024;
    if (f64) {
      frame_kernel<<<blocks, kThreads, 0, s>>>(reinterpret_cast<const double *>(points), n, f);
    } else {
      frame_kernel<<<blocks, kThreads, 0, s>>>(reinterpret_cast<const float *>(points), n, f);
    }
  }
  return gm_launch_check("gm_points_frame");
}

extern "C" int gm_points_order(int device, uint64_t points, uint64_t n, int f64, uint64_t frame,
                               uint64_t scratch, uint64_t scratch_bytes, uint64_t order_out,
                               uint64_t nonfinite, void *stream) {
  GmPointOrderScratch sc(scratch, n, sort_temp_bytes(n));
  if (sc.total > scratch_bytes || frame == 0 || nonfinite == 0 ||
      (n > 0 && (points == 0 || order_out == 0))) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_order: scratch too small or null address");
  }
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto *f = reinterpret_cast<const GmPointFrame *>(frame);
  auto *bad = reinterpret_cast<unsigned long long *>(nonfinite);
  cudaError_t error = cudaMemsetAsync(bad, 0, sizeof(uint64_t), s);
  if (error != cudaSuccess) return gm_cuda_failure("cudaMemsetAsync", error);
  if (n == 0) return gm_ok();
  if (f64 == GM_POINTS_CENTRED) {
    order_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
        GmCentred{reinterpret_cast<const float *>(points)}, n, f, sc.keys[0], sc.values, bad);
  } else if (f64) {
    order_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
        reinterpret_cast<const double *>(points), n, f, sc.keys[0], sc.values, bad);
  } else {
    order_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
        reinterpret_cast<const float *>(points), n, f, sc.keys[0], sc.values, bad);
  }
  int status = gm_launch_check("gm_points_order");
  if (status != GM_OK) return status;
  size_t bytes = sc.sort_bytes;
  auto *order = reinterpret_cast<uint32_t *>(order_out);
  cub::DoubleBuffer<uint64_t> keys(sc.keys[0], sc.keys[1]);
  cub::DoubleBuffer<uint32_t> values(sc.values, order);
  error = cub::DeviceRadixSort::SortPairs(sc.sort_temp, bytes, keys, values,
                                          static_cast<int64_t>(n), 0, 3 * GM_POINT_MORTON_BITS, s);
  if (error != cudaSuccess) return gm_cuda_failure("cub::DeviceRadixSort::SortPairs", error);
  /* The sorted codes stay in keys[1] for the leaves, the sorted order goes to order_out: after an
   * even number of passes both ended where they started. */
  if (keys.Current() != sc.keys[1]) {
    error = cudaMemcpyAsync(sc.keys[1], keys.Current(), n * sizeof(uint64_t),
                            cudaMemcpyDeviceToDevice, s);
    if (error == cudaSuccess) {
      error = cudaMemcpyAsync(order, values.Current(), n * sizeof(uint32_t),
                              cudaMemcpyDeviceToDevice, s);
    }
    if (error != cudaSuccess) return gm_cuda_failure("cudaMemcpyAsync", error);
  }
  return gm_ok();
}

extern "C" int gm_points_leaves(int device, uint64_t n, uint64_t scratch, uint64_t scratch_bytes,
                                uint64_t count_out, void *stream) {
  GmPointOrderScratch sc(scratch, n, sort_temp_bytes(n));
  if (sc.total > scratch_bytes || count_out == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_leaves: scratch too small or null count");
  }
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto *count = reinterpret_cast<uint32_t *>(count_out);
  if (n > 0) {
    leaf_flags_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(sc.keys[1], n, sc.flags);
    size_t bytes = sc.sort_bytes;
    cudaError_t error = cub::DeviceScan::ExclusiveSum(sc.sort_temp, bytes, sc.flags, sc.leaf_of,
                                                      static_cast<int64_t>(n), s);
    if (error != cudaSuccess) return gm_cuda_failure("cub::DeviceScan::ExclusiveSum", error);
  }
  leaf_count_kernel<<<1, 1, 0, s>>>(sc.flags, sc.leaf_of, n, count);
  return gm_launch_check("gm_points_leaves");
}

extern "C" int gm_points_index(int device, uint64_t points, uint64_t n, int f64, uint64_t frame,
                               uint64_t order, uint64_t scratch, uint64_t scratch_bytes,
                               uint64_t leaves, uint64_t index, void *stream) {
  GmPointOrderScratch sc(scratch, n, sort_temp_bytes(n));
  if (frame == 0 || index == 0 || sc.total > scratch_bytes || leaves > n ||
      (n > 0 && (points == 0 || order == 0 || leaves == 0))) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_index: null address, small scratch or bad leaves");
  }
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  GmPointIndexLayout layout(index, n, leaves);
  auto *f = reinterpret_cast<const GmPointFrame *>(frame);
  auto *o = reinterpret_cast<const uint32_t *>(order);
  if (n > 0) {
    if (f64 == GM_POINTS_CENTRED) {
      gather_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
          GmCentred{reinterpret_cast<const float *>(points)}, n, f, o, layout.points);
    } else if (f64) {
      gather_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
          reinterpret_cast<const double *>(points), n, f, o, layout.points);
    } else {
      gather_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
          reinterpret_cast<const float *>(points), n, f, o, layout.points);
    }
  }
  uint64_t base = layout.leaf_base;
  leaf_starts_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
      sc.flags, sc.leaf_of, sc.keys[1], n, leaves, layout.starts, layout.leaf_codes);
  leaf_kernel<<<gm_blocks_for(base, kThreads), kThreads, 0, s>>>(layout.points, layout.starts,
                                                              leaves, base, layout.nodes);
  for (uint64_t level = base / 2; level >= 1; level /= 2) {
    level_kernel<<<gm_blocks_for(level, kThreads), kThreads, 0, s>>>(level, layout.nodes);
  }
  return gm_launch_check("gm_points_index");
}

extern "C" int gm_points_offsets(int device, uint64_t points, uint64_t n, int f64, uint64_t frame,
                                 uint64_t out, void *stream) {
  if (frame == 0 || (n > 0 && (points == 0 || out == 0))) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_offsets: null frame, points or output");
  }
  if (n == 0) return gm_ok();
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto *f = reinterpret_cast<const GmPointFrame *>(frame);
  auto *o = reinterpret_cast<float *>(out);
  if (f64) {
    offsets_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
        reinterpret_cast<const double *>(points), n, f, o);
  } else {
    offsets_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
        reinterpret_cast<const float *>(points), n, f, o);
  }
  return gm_launch_check("gm_points_offsets");
}

extern "C" int gm_points_query(int device, const uint64_t *index, uint64_t queries, int f64,
                               uint64_t count, uint64_t order, uint32_t k, float radius2,
                               int flags, uint64_t out_begin, uint64_t out_end, uint64_t indices,
                               uint64_t distances, uint64_t counts, uint64_t features,
                               void *stream) {
  if (index == nullptr || k < 1 || k > GM_POINT_MAX_K || out_end < out_begin ||
      (queries != 0 && order == 0)) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_query: bad index, k, range or order");
  }
  GmPointIndexView view = gm_point_view(index);
  if (count == 0) return gm_ok();
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto *o = reinterpret_cast<const uint32_t *>(order);
  auto *ix = reinterpret_cast<int32_t *>(indices);
  auto *d = reinterpret_cast<float *>(distances);
  auto *c = reinterpret_cast<int32_t *>(counts);
  auto *fe = reinterpret_cast<float *>(features);
  if (f64) {
    dispatch_query(static_cast<int>(k), view, reinterpret_cast<const double *>(queries), o, count,
                   radius2, flags, out_begin, out_end, ix, d, c, fe, s);
  } else {
    dispatch_query(static_cast<int>(k), view, reinterpret_cast<const float *>(queries), o, count,
                   radius2, flags, out_begin, out_end, ix, d, c, fe, s);
  }
  return gm_launch_check("gm_points_query");
}
