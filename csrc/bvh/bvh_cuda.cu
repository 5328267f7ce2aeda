/* The CUDA build of the mesh BVH: each step of bvh_build_steps.h and each query of
 * bvh_elements.h as a kernel, CUB's radix sort and scan between them, all ordered on the caller's
 * stream with memory the caller (gpumem's manager) handed in. Nothing here allocates. */
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "../cuda_launch.h"
#include "../gpumem.h"
#include "../status.h"
#include "bvh_elements.h"
#include "bvh_sah.h"
#include "bvh_scratch.h"

namespace {

constexpr unsigned kThreads = 256;

/* The BVH's origin, passed to kernels by value. */
struct GmOrigin {
  double v[3];
};

GmOrigin origin_of(const double *words) { return GmOrigin{{words[0], words[1], words[2]}}; }

__global__ void validate_init_kernel(unsigned long long *report) {
  report[GM_VALIDATE_BAD_INDICES] = 0;
  report[GM_VALIDATE_FIRST_BAD_INDEX] = ~0ull;
  report[GM_VALIDATE_NONFINITE] = 0;
  report[GM_VALIDATE_FIRST_NONFINITE] = ~0ull;
}
constexpr unsigned kQueryThreads = 128;
/* Query kernels keep 8 blocks a multiprocessor resident (at most 64 registers a thread): the
 * traversals wait on memory, and more warps hide more of it (measured: bench/RESULTS.md). */
constexpr unsigned kQueryBlocksPerSm = 8;

template <typename V>
__global__ void validate_kernel(const V *vertices, uint64_t vertex_values, const uint32_t *triangles,
                                uint64_t index_count, uint64_t vertex_count,
                                unsigned long long *report) {
  GM_FOR_EACH(i, index_count) {
    if (gm_bad_index(triangles[i], vertex_count)) {
      atomicAdd(&report[GM_VALIDATE_BAD_INDICES], 1ull);
      atomicMin(&report[GM_VALIDATE_FIRST_BAD_INDEX], static_cast<unsigned long long>(i));
    }
  }
  GM_FOR_EACH(i, vertex_values) {
    if (gm_bad_value(vertices[i])) {
      atomicAdd(&report[GM_VALIDATE_NONFINITE], 1ull);
      atomicMin(&report[GM_VALIDATE_FIRST_NONFINITE], static_cast<unsigned long long>(i));
    }
  }
}

/* Centroid bounds: a block's minimum and maximum per axis, then one atomic per block and axis. */
template <typename V>
__global__ void bounds_kernel(const V *vertices, const uint32_t *triangles, uint64_t n,
                              GmOrigin o, uint32_t *bounds) {
  __shared__ float lo[3][kThreads], hi[3][kThreads];
  const double *origin = o.v;
  float l[3] = {INFINITY, INFINITY, INFINITY}, h[3] = {-INFINITY, -INFINITY, -INFINITY};
  GM_FOR_EACH(t, n) {
    GmVec3<float> c = gm_centroid(vertices, triangles, t, origin);
    l[0] = fminf(l[0], c.x), l[1] = fminf(l[1], c.y), l[2] = fminf(l[2], c.z);
    h[0] = fmaxf(h[0], c.x), h[1] = fmaxf(h[1], c.y), h[2] = fmaxf(h[2], c.z);
  }
  for (int k = 0; k < 3; k++) lo[k][threadIdx.x] = l[k], hi[k][threadIdx.x] = h[k];
  __syncthreads();
  for (unsigned stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      for (int k = 0; k < 3; k++) {
        lo[k][threadIdx.x] = fminf(lo[k][threadIdx.x], lo[k][threadIdx.x + stride]);
        hi[k][threadIdx.x] = fmaxf(hi[k][threadIdx.x], hi[k][threadIdx.x + stride]);
      }
    }
    __syncthreads();
  }
  if (threadIdx.x < 3) {
    atomicMin(&bounds[threadIdx.x], gm_order_float(lo[threadIdx.x][0]));
    atomicMax(&bounds[3 + threadIdx.x], gm_order_float(hi[threadIdx.x][0]));
  }
}

template <typename V>
__global__ void morton_kernel(const V *vertices, const uint32_t *triangles, uint64_t n,
                              GmOrigin o, const uint32_t *bounds, uint32_t *keys,
                              uint32_t *values) {
  const double *origin = o.v;
  float lo[3], hi[3], scale[3];
  for (int k = 0; k < 3; k++) lo[k] = gm_unorder_float(bounds[k]), hi[k] = gm_unorder_float(bounds[3 + k]);
  gm_morton_scale(lo, hi, scale);
  GM_FOR_EACH(t, n) gm_step_morton(t, vertices, triangles, origin, lo, scale, keys, values);
}

template <typename V>
__global__ void gather_kernel(const V *vertices, const uint32_t *triangles, uint64_t n,
                              GmOrigin o, const uint32_t *order,
                              GmBvhTriangle *tris, uint32_t *indices) {
  const double *origin = o.v;
  GM_FOR_EACH(s, n) gm_step_gather(s, vertices, triangles, origin, order, tris, indices);
}

template <typename V>
__global__ void regather_kernel(const V *vertices, const uint32_t *indices, uint64_t n,
                                GmOrigin o, GmBvhTriangle *tris) {
  const double *origin = o.v;
  GM_FOR_EACH(s, n) gm_step_regather(s, vertices, indices, origin, tris);
}

__global__ void karras_kernel(const uint32_t *codes, uint64_t n, uint32_t leaf_size,
                              GmKarrasNode *karras, uint32_t *kept) {
  GM_FOR_EACH(i, n - 1) {
    gm_step_karras(static_cast<int64_t>(i), codes, static_cast<int64_t>(n), leaf_size, karras);
    kept[i] = karras[i].kept;
  }
}

/* The node count: the scan's last entry plus whether the last node is kept (one leaf: 1). */
__global__ void count_kernel(const uint32_t *kept, const uint32_t *index, uint64_t n,
                             uint32_t leaf_size, uint32_t *count) {
  *count = n <= leaf_size ? 1u : index[n - 2] + kept[n - 2];
}

__global__ void emit_kernel(const GmKarrasNode *karras, const uint32_t *index, uint64_t n,
                            uint32_t leaf_size, GmBvhNode *nodes,
                            GmBvhDistanceNode *distance_nodes, int32_t *parents,
                            int32_t *pending) {
  if (n <= leaf_size) {
    if (blockIdx.x == 0 && threadIdx.x == 0) {
      gm_emit_single_leaf(static_cast<uint32_t>(n), nodes, distance_nodes, parents, pending);
    }
    return;
  }
  GM_FOR_EACH(i, n - 1) {
    gm_step_emit(static_cast<int64_t>(i), karras, index, nodes, distance_nodes, parents, pending);
  }
}

/* Children of at most this many triangles are read by their own lane; larger ones by the
 * whole warp. */
constexpr uint32_t kLaneOrientedTriangles = 32;

/* Oriented boxes, a thread per node. A lane reads a small child's triangles (consecutive) alone;
 * the warp reads a large child's together, one large child at a time. Leaves widening each
 * ancestor with atomics took L9 2.1 ms (ncu), the atomics of thousands of leaves meeting at each
 * large ancestor; a warp for every node 2.4 ms, most of its lanes idle. */
__global__ void oriented_kernel(const GmBvhNode *nodes, const GmBvhWinding *winding,
                                GmBvhDistanceNode *distance_nodes, const GmBvhTriangle *tris,
                                uint64_t node_count) {
  const unsigned lane = threadIdx.x % 32;
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  /* The whole warp goes round the loop together (base is its first thread's). */
  for (uint64_t base = (static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x) & ~31ull;
       base < node_count; base += stride) {
    uint64_t j = base + lane;
    bool live = j < node_count;
    for (int side = 0; side < 2; side++) {
      GmVec3<float> axes[3], c0 = gm_vec(0.0f, 0.0f, 0.0f);
      uint32_t first = 0, size = 0;
      bool wanted = false;
      if (live) {
        gm_oriented_axes(winding[j], side, axes);
        c0 = gm_box_centre(nodes[j], side);
        wanted = gm_oriented_wanted(distance_nodes[j], side);
        first = distance_nodes[j].first[side], size = distance_nodes[j].size[side];
      }
      float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
      if (wanted && size <= kLaneOrientedTriangles) {
        for (uint32_t t = first; t < first + size; t++) {
          gm_oriented_extend(tris[t], axes, c0, lo, hi);
        }
      }
      unsigned large = __ballot_sync(0xFFFFFFFFu, wanted && size > kLaneOrientedTriangles);
      while (large != 0) {
        int owner = __ffs(large) - 1;
        large &= large - 1;
        GmVec3<float> owner_axes[3], owner_c0;
        for (int k = 0; k < 3; k++) {
          for (int c = 0; c < 3; c++) {
            (&owner_axes[k].x)[c] = __shfl_sync(0xFFFFFFFFu, (&axes[k].x)[c], owner);
          }
          (&owner_c0.x)[k] = __shfl_sync(0xFFFFFFFFu, (&c0.x)[k], owner);
        }
        uint32_t owner_first = __shfl_sync(0xFFFFFFFFu, first, owner);
        uint32_t owner_size = __shfl_sync(0xFFFFFFFFu, size, owner);
        float l[3] = {INFINITY, INFINITY, INFINITY}, h[3] = {-INFINITY, -INFINITY, -INFINITY};
        for (uint32_t t = lane; t < owner_size; t += 32) {
          gm_oriented_extend(tris[owner_first + t], owner_axes, owner_c0, l, h);
        }
        for (int k = 0; k < 3; k++) {
          for (int offset = 16; offset > 0; offset /= 2) {
            l[k] = fminf(l[k], __shfl_xor_sync(0xFFFFFFFFu, l[k], offset));
            h[k] = fmaxf(h[k], __shfl_xor_sync(0xFFFFFFFFu, h[k], offset));
          }
          if (static_cast<int>(lane) == owner) lo[k] = l[k], hi[k] = h[k];
        }
      }
      if (live) {
        gm_store_oriented(&distance_nodes[j].box[side],
                          gm_oriented_box(nodes[j], distance_nodes[j], side, axes, lo, hi));
      }
    }
  }
}

/* The oriented boxes, after the boxes and dipoles are done. */
int launch_oriented_boxes(GmBvhNode *nodes, const GmBvhWinding *winding, const GmBvhTriangle *tris,
                          uint64_t node_count, cudaStream_t s) {
  oriented_kernel<<<gm_blocks_for(node_count, kThreads), kThreads, 0, s>>>(
      nodes, winding, gm_distance_nodes(nodes, node_count), tris, node_count);
  return gm_launch_check("oriented_kernel");
}

__global__ void pending_kernel(const GmBvhNode *nodes, uint64_t node_count, int32_t *pending) {
  GM_FOR_EACH(j, node_count) gm_step_pending(j, nodes, pending);
}

__global__ void bottom_up_kernel(GmBvhNode *nodes, GmBvhWinding *winding, const GmBvhTriangle *tris,
                                 const int32_t *parents, int32_t *pending, uint64_t node_count) {
  GM_FOR_EACH(j, node_count) {
    gm_step_bottom_up(static_cast<int32_t>(j), nodes, winding, tris, parents, pending);
  }
}

struct AtomicAdd {
  __device__ void operator()(float *p, float v) const { atomicAdd(p, v); }
};

__global__ void vertex_normals_kernel(const GmBvhTriangle *tris, const uint32_t *indices,
                                      uint64_t n, float *sums) {
  GM_FOR_EACH(s, n) gm_step_vertex_normals(s, tris, indices, sums, AtomicAdd());
}

__global__ void edge_keys_kernel(const uint32_t *indices, uint64_t n, uint64_t *keys,
                                 uint32_t *values) {
  GM_FOR_EACH(s, n) gm_step_edge_keys(s, indices, keys, values);
}

__global__ void edge_normals_kernel(const uint64_t *keys, const uint32_t *values, uint64_t edges,
                                    const GmBvhTriangle *tris, GmBvhPseudoNormals *normals) {
  GM_FOR_EACH(e, edges) gm_step_edge_normals(e, edges, keys, values, tris, normals);
}

__global__ void vertex_gather_kernel(const uint32_t *indices, uint64_t n, const float *sums,
                                     GmBvhPseudoNormals *normals) {
  GM_FOR_EACH(s, n) gm_step_vertex_gather(s, indices, sums, normals);
}

template <typename P>
__global__ void query_morton_kernel(GmFrame frame, const P *points, uint64_t count, uint32_t *keys,
                                    uint32_t *values) {
  GM_FOR_EACH(i, count) gm_query_morton(i, frame, points, keys, values);
}

/* Nodes a query may visit in the first pass before it is handed to a warp of its own. */
constexpr int kFirstPassBudget = 1024;

__device__ void defer(uint32_t *deferred, uint32_t *deferred_count, uint64_t i) {
  deferred[atomicAdd(deferred_count, 1u)] = static_cast<uint32_t>(i);
}

/* A leaf left on a ray's stack: the node holding it and which of its children it is, as
 * ~(2 · node + side) in an int32, so trees of kMostNodesTogether nodes or more (a billion: more
 * memory than a GPU has) take gm_ray_cast instead. */
constexpr uint32_t kMostNodesTogether = 1u << 30;
__device__ int32_t leaf_entry(int32_t node, int side) { return ~(2 * node + side); }

/* First pass, a thread per query, float only: queries far from the mesh or past the node budget
 * are deferred to closest_deferred_kernel. */
template <typename P>
__global__ void __launch_bounds__(kQueryThreads, kQueryBlocksPerSm)
    closest_first_kernel(GmBvhView bvh, GmFrame frame, const P *points, uint64_t count,
                         const uint32_t *order, float limit, int sign_mode, float *distance,
                         int32_t *face, float *point, float *bary, uint32_t *deferred,
                         uint32_t *deferred_count, uint32_t *status) {
  uint32_t local = 0;
  GM_FOR_EACH(t, count) {
    uint64_t i = order ? order[t] : t;
    GmVec3<double> x = gm_read_point(points, i, frame);
    if (!gm_finite(x)) {
      gm_write_miss(i, distance, face, point, bary, NAN);
      continue;
    }
    if (!gm_is_far(x, frame)) {
      GmNearest<float> near = gm_nearest(bvh.distance_nodes, bvh.tris, gm_narrow<float>(x),
                                         limit * limit, kFirstPassBudget, &local);
      if (!near.exhausted) {
        gm_closest_write(i, bvh, frame, x, near, sign_mode, distance, face, point, bary, &local);
        continue;
      }
    }
    defer(deferred, deferred_count, i);
  }
  if (local) atomicOr(status, local);
}

__device__ uint64_t pack_entry(int32_t node, float distance2) {
  return static_cast<uint64_t>(static_cast<uint32_t>(node)) |
         (static_cast<uint64_t>(__float_as_uint(distance2)) << 32);
}

/* The nearest triangle to x, found by the 32 lanes of a warp together: each pass takes up to 32
 * entries off a shared stack (the most recent, so it stays shallow), tests them and pushes the
 * children worth visiting. For the queries one thread would take the mesh's whole size to answer
 * (points deep inside a sphere are near all of it). */
__device__ GmNearest<float> warp_nearest(const GmBvhView &bvh, GmVec3<float> x, float limit2,
                                         uint64_t *stack, unsigned lane, uint32_t *status) {
  const unsigned all = 0xFFFFFFFFu;
  GmNearest<float> best = gm_no_nearest(limit2);
  float bound = limit2;
  int size = 1;
  if (lane == 0) stack[0] = pack_entry(0, 0.0f);
  __syncwarp();
  while (size > 0) {
    int take = size < 32 ? size : 32;
    int base = size - take;
    bool have = static_cast<int>(lane) < take;
    uint64_t entry = have ? stack[base + lane] : 0;
    __syncwarp();
    int32_t push[2] = {0, 0};
    float push_distance[2] = {INFINITY, INFINITY};
    if (have && __uint_as_float(static_cast<uint32_t>(entry >> 32)) < bound) {
      int32_t index = static_cast<int32_t>(entry & 0xFFFFFFFFu);
      GmBvhDistanceNode node = gm_fetch_distance_node(bvh.distance_nodes, index);
      GmOrderedChildren<float> c = gm_order_children(node, gm_oriented_distance2(x, node.box[0]),
                                                     gm_oriented_distance2(x, node.box[1]));
#pragma unroll
      for (int k = 0; k < 2; k++) {
        if (c.child[k] < 0 && c.key[k] < best.distance2) {
          gm_nearest_in_leaf(bvh.tris, c.child[k], c.count[k], x, best);
        }
      }
      /* The farther child first, so that the nearer one is taken first. */
#pragma unroll
      for (int k = 0; k < 2; k++) {
        if (c.child[1 - k] >= 0) push[k] = c.child[1 - k], push_distance[k] = c.key[1 - k];
      }
    }
    float m = best.distance2;
    for (int offset = 16; offset > 0; offset /= 2) m = fminf(m, __shfl_xor_sync(all, m, offset));
    bound = m;
    if (base + 64 > GM_WARP_STACK) {
      *status |= GM_QUERY_STACK_OVERFLOW;
      break;
    }
    int pushed = 0;
    for (int k = 0; k < 2; k++) {
      bool keep = push_distance[k] < bound;
      unsigned mask = __ballot_sync(all, keep);
      if (keep) stack[base + pushed + __popc(mask & ((1u << lane) - 1u))] = pack_entry(push[k], push_distance[k]);
      pushed += __popc(mask);
    }
    size = base + pushed;
    __syncwarp();
  }
  /* The answer is the lowest lane holding the smallest distance. */
  unsigned holders = __ballot_sync(all, best.triangle >= 0 && best.distance2 == bound);
  if (holders == 0) return gm_no_nearest(limit2);
  int owner = __ffs(holders) - 1;
  GmNearest<float> r;
  r.distance2 = __shfl_sync(all, best.distance2, owner);
  r.u = __shfl_sync(all, best.u, owner);
  r.v = __shfl_sync(all, best.v, owner);
  r.w = __shfl_sync(all, best.w, owner);
  r.triangle = __shfl_sync(all, best.triangle, owner);
  r.feature = __shfl_sync(all, best.feature, owner);
  r.exhausted = false;
  return r;
}

/* Second pass, a warp per deferred query: far ones in double on one lane, the others together. */
template <typename P>
__global__ void __launch_bounds__(kQueryThreads, kQueryBlocksPerSm)
    closest_deferred_kernel(GmBvhView bvh, GmFrame frame, const P *points, float limit,
                            int sign_mode, float *distance, int32_t *face, float *point,
                            float *bary, const uint32_t *deferred, const uint32_t *deferred_count,
                            uint64_t *warp_stacks, uint32_t *status) {
  const unsigned lane = threadIdx.x & 31u;
  const uint64_t warp = (blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x) / 32;
  const uint64_t warps = static_cast<uint64_t>(gridDim.x) * blockDim.x / 32;
  uint64_t *stack = warp_stacks + warp * GM_WARP_STACK;
  uint32_t local = 0;
  const uint32_t n = *deferred_count;
  for (uint64_t k = warp; k < n; k += warps) {
    uint64_t i = deferred[k];
    GmVec3<double> x = gm_read_point(points, i, frame);
    if (gm_is_far(x, frame)) {
      if (lane == 0) {
        double limit2 = static_cast<double>(limit) * static_cast<double>(limit);
        GmNearest<double> near = gm_nearest(bvh.distance_nodes, bvh.tris, x, limit2, -1, &local);
        gm_closest_write(i, bvh, frame, x, near, sign_mode, distance, face, point, bary, &local);
      }
    } else {
      GmNearest<float> near =
          warp_nearest(bvh, gm_narrow<float>(x), limit * limit, stack, lane, &local);
      if (lane == 0) {
        gm_closest_write(i, bvh, frame, x, near, sign_mode, distance, face, point, bary, &local);
      }
    }
    __syncwarp();
  }
  if (local) atomicOr(status, local);
}

__device__ void leaf_of_entry(const GmBvhNode *nodes, int32_t entry, uint32_t *first,
                              uint32_t *count) {
  int32_t node = (~entry) >> 1, side = (~entry) & 1;
  int4 refs = __ldg(reinterpret_cast<const int4 *>(nodes + node) + 3);
  *first = static_cast<uint32_t>(~(side ? refs.y : refs.x));
  *count = static_cast<uint32_t>(side ? refs.w : refs.z);
}

/* The nearest hit of a ray near the mesh (float), with leaves put off (Aila & Laine 2009): a lane
 * that finds a leaf holds it and goes on down the tree until every lane of its warp holds one,
 * and then they test their triangles together, not a few lanes at a time while the rest wait. */
__device__ GmRayResult<float> ray_cast_together(const GmBvhNode *nodes, const GmBvhTriangle *tris,
                                                GmVec3<float> o, GmVec3<float> d, float t_max,
                                                bool any_hit, uint32_t *status) {
  GmRayResult<float> best;
  best.t = t_max, best.u = best.v = 0.0f, best.triangle = -1;
  GmVec3<float> inv = gm_inverse(d);
  int32_t stack[GM_BVH_STACK];
  float keys[GM_BVH_STACK];
  int depth = 0;
  int32_t current = 0;
  bool has_node = true, has_leaf = false;
  uint32_t leaf_first = 0, leaf_count = 0;
  for (;;) {
    while (has_node) {
      GmBvhNode node = gm_fetch_boxes(nodes, current);
      float key0 = gm_ray_box(o, inv, node.box, node.box + 3, best.t);
      float key1 = gm_ray_box(o, inv, node.box + 6, node.box + 9, best.t);
      bool swap = key1 < key0;
      int32_t parent = current;
      has_node = false;
#pragma unroll
      for (int k = 0; k < 2; k++) {
        int side = (k == 0) == swap ? 1 : 0;
        float key = side ? key1 : key0;
        int32_t child = side ? node.child[1] : node.child[0];
        if (!(key <= best.t)) continue;
        int32_t entry = child;
        if (child < 0) {
          if (!has_leaf) {
            has_leaf = true, leaf_first = static_cast<uint32_t>(~child);
            leaf_count = side ? node.count[1] : node.count[0];
            continue;
          }
          entry = leaf_entry(parent, side);
        } else if (!has_node) {
          current = child, has_node = true;
          continue;
        }
        if (depth == GM_BVH_STACK) {
          *status |= GM_QUERY_STACK_OVERFLOW;
          return best;
        }
        stack[depth] = entry, keys[depth++] = key;
      }
      /* Pop the nearest node left (a leaf left there is taken while none is held). */
      while (!has_node && depth > 0) {
        int32_t entry = stack[--depth];
        if (!(keys[depth] <= best.t)) continue;
        if (entry >= 0) {
          current = entry, has_node = true;
        } else if (!has_leaf) {
          leaf_of_entry(nodes, entry, &leaf_first, &leaf_count);
          has_leaf = true;
        } else {
          depth++; /* two leaves held: test the first */
          break;
        }
      }
      if (has_leaf && !__any_sync(__activemask(), !has_leaf)) break;
    }
    if (has_leaf) {
      if (gm_ray_in_leaf(tris, leaf_first, leaf_count, o, d, any_hit, best)) return best;
      has_leaf = false;
    }
    /* Nothing held: the next node or leaf from the stack. */
    while (!has_node && !has_leaf && depth > 0) {
      int32_t entry = stack[--depth];
      if (!(keys[depth] <= best.t)) continue;
      if (entry >= 0) {
        current = entry, has_node = true;
      } else {
        leaf_of_entry(nodes, entry, &leaf_first, &leaf_count);
        has_leaf = true;
      }
    }
    if (!has_node && !has_leaf) return best;
  }
}

/* First pass of rays near the mesh (float); Together: with leaves put off (ray_cast_together). */
template <typename P, bool Together>
__global__ void __launch_bounds__(kQueryThreads, kQueryBlocksPerSm)
    ray_first_kernel(GmBvhView bvh, GmFrame frame, const P *origins, const P *directions,
                     uint64_t count, const uint32_t *order, float t_max, int any_hit,
                     float *t_out, int32_t *face, float *bary, uint32_t *deferred,
                     uint32_t *deferred_count, uint32_t *status) {
  uint32_t local = 0;
  GM_FOR_EACH(t, count) {
    uint64_t i = order ? order[t] : t;
    GmVec3<double> o = gm_read_point(origins, i, frame);
    GmVec3<double> d = gm_read_direction(directions, i);
    if (!gm_finite(o) || !gm_finite(d)) {
      gm_write_ray_miss(i, t_out, face, bary, NAN);
    } else if (gm_is_far(o, frame)) {
      defer(deferred, deferred_count, i);
    } else {
      if (Together) {
        GmRayResult<float> r = ray_cast_together(bvh.nodes, bvh.tris, gm_narrow<float>(o),
                                                 gm_narrow<float>(d), t_max, any_hit != 0, &local);
        gm_ray_write(i, bvh, r, t_out, face, bary);
      } else {
        gm_ray_query<float>(i, bvh, o, d, t_max, any_hit, t_out, face, bary, &local);
      }
    }
  }
  if (local) atomicOr(status, local);
}

/* Rays from far away, in double precision. */
template <typename P>
__global__ void __launch_bounds__(kQueryThreads, kQueryBlocksPerSm)
    ray_deferred_kernel(GmBvhView bvh, GmFrame frame, const P *origins, const P *directions,
                        float t_max, int any_hit, float *t_out, int32_t *face, float *bary,
                        const uint32_t *deferred, const uint32_t *deferred_count,
                        uint32_t *status) {
  uint32_t local = 0;
  GM_FOR_EACH(k, *deferred_count) {
    uint64_t i = deferred[k];
    gm_ray_query<double>(i, bvh, gm_read_point(origins, i, frame), gm_read_direction(directions, i),
                         t_max, any_hit, t_out, face, bary, &local);
  }
  if (local) atomicOr(status, local);
}

/* CUB's temporary bytes for sorting n (key, value) pairs, keys of KeyBits bits. */
template <typename Key>
uint64_t sort_temp_bytes(uint64_t n) {
  size_t bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const Key *>(nullptr),
                                  static_cast<Key *>(nullptr),
                                  static_cast<const uint32_t *>(nullptr),
                                  static_cast<uint32_t *>(nullptr), static_cast<int64_t>(n));
  return bytes;
}

uint64_t scan_temp_bytes(uint64_t n) {
  size_t bytes = 0;
  cub::DeviceScan::ExclusiveSum(nullptr, bytes, static_cast<const uint32_t *>(nullptr),
                                static_cast<uint32_t *>(nullptr), static_cast<int64_t>(n));
  return bytes;
}

uint64_t build_temp_bytes(uint64_t n) {
  uint64_t sort = sort_temp_bytes<uint32_t>(n), scan = scan_temp_bytes(n);
  return sort > scan ? sort : scan;
}


/* Sorts (keys[0], values[0]) into (keys[1], values[1]) on `stream`; begin_bit..end_bit of the key. */
template <typename Key>
int sort_pairs(void *temp, uint64_t temp_bytes, Key *const keys[2], uint32_t *const values[2],
               uint64_t n, int end_bit, cudaStream_t stream) {
  size_t bytes = temp_bytes;
  cudaError_t error = cub::DeviceRadixSort::SortPairs(temp, bytes, keys[0], keys[1], values[0],
                                                      values[1], static_cast<int64_t>(n), 0,
                                                      end_bit, stream);
  return error == cudaSuccess ? GM_OK : gm_cuda_failure("cub::DeviceRadixSort::SortPairs", error);
}

}  // namespace

extern "C" int gm_bvh_validate(int device, uint64_t vertices, uint64_t vertex_count, int vertex_f64,
                               uint64_t triangles, uint64_t triangle_count, uint64_t report,
                               void *stream) {
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (report == 0) return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_validate: null report");
  uint64_t work = 3 * (triangle_count > vertex_count ? triangle_count : vertex_count);
  unsigned blocks = gm_blocks_for(work, kThreads);
  if (blocks > 4096) blocks = 4096;
  auto *out = reinterpret_cast<unsigned long long *>(report);
  validate_init_kernel<<<1, 1, 0, s>>>(out);
  auto *tri = reinterpret_cast<const uint32_t *>(triangles);
  if (vertex_f64) {
    validate_kernel<<<blocks, kThreads, 0, s>>>(reinterpret_cast<const double *>(vertices),
                                                3 * vertex_count, tri, 3 * triangle_count,
                                                vertex_count, out);
  } else {
    validate_kernel<<<blocks, kThreads, 0, s>>>(reinterpret_cast<const float *>(vertices),
                                                3 * vertex_count, tri, 3 * triangle_count,
                                                vertex_count, out);
  }
  return gm_launch_check("validate_kernel");
}

extern "C" int gm_bvh_build_scratch(uint64_t triangle_count, uint64_t *bytes) {
  if (triangle_count == 0 || triangle_count >= 0x7FFFFFFFull) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_build_scratch: %llu triangles",
                   static_cast<unsigned long long>(triangle_count));
  }
  *bytes = GmBuildScratch(0, triangle_count, build_temp_bytes(triangle_count)).total;
  return gm_ok();
}

static __global__ void iota_kernel(uint32_t *values, uint64_t n) {
  GM_FOR_EACH(i, n) values[i] = static_cast<uint32_t>(i);
}

/* A small mesh's SAH hierarchy (bvh_sah.h), built on the host as the CPU library builds it: the
 * triangles gathered in input order come down (at most GM_SAH_MAX_TRIANGLES, 384 KiB), the order
 * and the Karras scratch go back up, and the triangles are gathered again in that order. The
 * call waits for the stream, then builds on the calling thread (~2.5 ms for the bunny). */
template <typename V>
static int launch_sah_tree(const V *vertices, const uint32_t *triangles, uint64_t n,
                           GmOrigin origin, uint32_t leaf_size, GmBuildScratch &sc,
                           GmBvhTriangle *tris, uint32_t *indices, cudaStream_t s) {
  unsigned blocks = gm_blocks_for(n, kThreads);
  iota_kernel<<<blocks, kThreads, 0, s>>>(sc.values[0], n);
  gather_kernel<<<blocks, kThreads, 0, s>>>(vertices, triangles, n, origin, sc.values[0], tris,
                                            indices);
  int status = gm_launch_check("gather_kernel");
  if (status != GM_OK) return status;
  std::vector<GmBvhTriangle> host(n);
  std::vector<uint32_t> order(n), kept(n - 1);
  std::vector<GmKarrasNode> karras(n - 1);
  cudaError_t error = cudaMemcpyAsync(host.data(), tris, n * sizeof(GmBvhTriangle),
                                      cudaMemcpyDeviceToHost, s);
  if (error == cudaSuccess) error = cudaStreamSynchronize(s);
  if (error != cudaSuccess) return gm_cuda_failure("the SAH build's download", error);
  gm_sah_hierarchy(host.data(), n, leaf_size, order.data(), karras.data(), kept.data());
  /* From pageable memory: each copy has read its source when it returns. */
  error = cudaMemcpyAsync(sc.values[1], order.data(), n * 4, cudaMemcpyHostToDevice, s);
  if (error == cudaSuccess) {
    error = cudaMemcpyAsync(sc.karras, karras.data(), (n - 1) * sizeof(GmKarrasNode),
                            cudaMemcpyHostToDevice, s);
  }
  if (error == cudaSuccess) {
    error = cudaMemcpyAsync(sc.kept, kept.data(), (n - 1) * 4, cudaMemcpyHostToDevice, s);
  }
  if (error != cudaSuccess) return gm_cuda_failure("the SAH build's upload", error);
  gather_kernel<<<blocks, kThreads, 0, s>>>(vertices, triangles, n, origin, sc.values[1], tris,
                                            indices);
  return gm_launch_check("gather_kernel");
}

template <typename V>
static void launch_tree(const V *vertices, const uint32_t *triangles, uint64_t n,
                        GmOrigin origin, uint32_t leaf_size, GmBuildScratch &sc,
                        GmBvhTriangle *tris, uint32_t *indices, cudaStream_t s, int *status) {
  unsigned reduce_blocks = gm_blocks_for(n, kThreads);
  if (reduce_blocks > 1024) reduce_blocks = 1024;
  bounds_kernel<<<reduce_blocks, kThreads, 0, s>>>(vertices, triangles, n, origin, sc.bounds);
  morton_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(vertices, triangles, n, origin,
                                                             sc.bounds, sc.keys[0], sc.values[0]);
  *status = gm_launch_check("morton_kernel");
  if (*status != GM_OK) return;
  *status = sort_pairs<uint32_t>(sc.sort_temp, sc.sort_bytes, sc.keys, sc.values, n, 30, s);
  if (*status != GM_OK) return;
  gather_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(vertices, triangles, n, origin,
                                                             sc.values[1], tris, indices);
  *status = gm_launch_check("gather_kernel");
}

extern "C" int gm_bvh_build_tree(int device, uint64_t vertices, uint64_t vertex_count,
                                 int vertex_f64, uint64_t triangles, uint64_t triangle_count,
                                 const double *origin, uint32_t leaf_size, uint64_t scratch,
                                 uint64_t scratch_bytes, uint64_t tris_out, uint64_t indices_out,
                                 uint64_t node_count_out, void *stream) {
  (void)vertex_count;
  uint64_t n = triangle_count;
  if (n == 0 || leaf_size == 0 || scratch == 0 || tris_out == 0 || indices_out == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_build_tree: empty mesh or null address");
  }
  GmBuildScratch sc(scratch, n, build_temp_bytes(n));
  if (sc.total > scratch_bytes) return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_build_tree: scratch too small");
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  GmOrigin origin_words = origin_of(origin);
  /* Minima start at the largest ordered value, maxima at the smallest. */
  cudaError_t error = cudaMemsetAsync(sc.bounds, 0xFF, 3 * sizeof(uint32_t), s);
  if (error == cudaSuccess) error = cudaMemsetAsync(sc.bounds + 3, 0, 3 * sizeof(uint32_t), s);
  if (error != cudaSuccess) return gm_cuda_failure("cudaMemsetAsync", error);
  auto *tri = reinterpret_cast<const uint32_t *>(triangles);
  auto *tris = reinterpret_cast<GmBvhTriangle *>(tris_out);
  auto *indices = reinterpret_cast<uint32_t *>(indices_out);
  int status = GM_OK;
  bool sah = gm_sah_builds(n, leaf_size);
  if (sah) {
    status = vertex_f64 ? launch_sah_tree(reinterpret_cast<const double *>(vertices), tri, n,
                                          origin_words, leaf_size, sc, tris, indices, s)
                        : launch_sah_tree(reinterpret_cast<const float *>(vertices), tri, n,
                                          origin_words, leaf_size, sc, tris, indices, s);
  } else if (vertex_f64) {
    launch_tree(reinterpret_cast<const double *>(vertices), tri, n, origin_words, leaf_size, sc,
                tris, indices, s, &status);
  } else {
    launch_tree(reinterpret_cast<const float *>(vertices), tri, n, origin_words, leaf_size, sc,
                tris, indices, s, &status);
  }
  if (status != GM_OK) return status;
  if (n > 1) {
    if (!sah) {
      karras_kernel<<<gm_blocks_for(n - 1, kThreads), kThreads, 0, s>>>(
          sc.keys[1], n, leaf_size, sc.karras, sc.kept);
      if ((status = gm_launch_check("karras_kernel")) != GM_OK) return status;
    }
    size_t bytes = sc.sort_bytes;
    error = cub::DeviceScan::ExclusiveSum(sc.sort_temp, bytes, sc.kept, sc.index,
                                          static_cast<int64_t>(n - 1), s);
    if (error != cudaSuccess) return gm_cuda_failure("cub::DeviceScan::ExclusiveSum", error);
  }
  count_kernel<<<1, 1, 0, s>>>(sc.kept, sc.index, n, leaf_size,
                               reinterpret_cast<uint32_t *>(node_count_out));
  return gm_launch_check("count_kernel");
}

extern "C" int gm_bvh_build_nodes(int device, uint64_t triangle_count, uint32_t leaf_size,
                                  uint64_t scratch, uint64_t scratch_bytes, uint64_t nodes_out,
                                  uint64_t winding_out, uint64_t parents_out, uint64_t node_count,
                                  uint64_t tris, void *stream) {
  uint64_t n = triangle_count;
  if (n == 0 || node_count == 0 || nodes_out == 0 || winding_out == 0 || parents_out == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_build_nodes: empty tree or null address");
  }
  GmBuildScratch sc(scratch, n, build_temp_bytes(n));
  if (sc.total > scratch_bytes) return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_build_nodes: scratch too small");
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto *nodes = reinterpret_cast<GmBvhNode *>(nodes_out);
  auto *parents = reinterpret_cast<int32_t *>(parents_out);
  auto *winding = reinterpret_cast<GmBvhWinding *>(winding_out);
  auto *triangles = reinterpret_cast<const GmBvhTriangle *>(tris);
  emit_kernel<<<gm_blocks_for(n > 1 ? n - 1 : 1, kThreads), kThreads, 0, s>>>(
      sc.karras, sc.index, n, leaf_size, nodes, gm_distance_nodes(nodes, node_count), parents,
      sc.pending);
  int status = gm_launch_check("emit_kernel");
  if (status != GM_OK) return status;
  bottom_up_kernel<<<gm_blocks_for(node_count, kThreads), kThreads, 0, s>>>(
      nodes, winding, triangles, parents, sc.pending, node_count);
  if ((status = gm_launch_check("bottom_up_kernel")) != GM_OK) return status;
  return launch_oriented_boxes(nodes, winding, triangles, node_count, s);
}

extern "C" int gm_bvh_refit(int device, uint64_t vertices, int vertex_f64, const double *origin,
                            const uint64_t *bvh, uint64_t indices, uint64_t parents,
                            uint64_t pending, void *stream) {
  uint64_t n = bvh[GM_BVH_TRIANGLE_COUNT], node_count = bvh[GM_BVH_NODE_COUNT];
  if (n == 0 || node_count == 0 || vertices == 0 || pending == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_refit: empty tree or null address");
  }
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto *tris = reinterpret_cast<GmBvhTriangle *>(bvh[GM_BVH_TRIANGLES]);
  auto *nodes = reinterpret_cast<GmBvhNode *>(bvh[GM_BVH_NODES]);
  auto *idx = reinterpret_cast<const uint32_t *>(indices);
  GmOrigin origin_words = origin_of(origin);
  if (vertex_f64) {
    regather_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
        reinterpret_cast<const double *>(vertices), idx, n, origin_words, tris);
  } else {
    regather_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(
        reinterpret_cast<const float *>(vertices), idx, n, origin_words, tris);
  }
  auto *counters = reinterpret_cast<int32_t *>(pending);
  pending_kernel<<<gm_blocks_for(node_count, kThreads), kThreads, 0, s>>>(nodes, node_count, counters);
  auto *winding = reinterpret_cast<GmBvhWinding *>(bvh[GM_BVH_WINDING]);
  bottom_up_kernel<<<gm_blocks_for(node_count, kThreads), kThreads, 0, s>>>(
      nodes, winding, tris, reinterpret_cast<const int32_t *>(parents), counters, node_count);
  int status = gm_launch_check("refit kernels");
  if (status != GM_OK) return status;
  return launch_oriented_boxes(nodes, winding, tris, node_count, s);
}

extern "C" int gm_bvh_normals_scratch(uint64_t triangle_count, uint64_t vertex_count,
                                      uint64_t *bytes) {
  *bytes = GmNormalsScratch(0, triangle_count, vertex_count,
                            sort_temp_bytes<uint64_t>(3 * triangle_count))
               .total;
  return gm_ok();
}

extern "C" int gm_bvh_normals(int device, uint64_t tris_address, uint64_t indices_address,
                              uint64_t triangle_count, uint64_t vertex_count, uint64_t scratch,
                              uint64_t scratch_bytes, uint64_t normals_out, void *stream) {
  uint64_t n = triangle_count;
  GmNormalsScratch sc(scratch, n, vertex_count, sort_temp_bytes<uint64_t>(3 * n));
  if (sc.total > scratch_bytes || normals_out == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_normals: scratch too small or null output");
  }
  GM_CUDA_SCOPE(device);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  auto *tris = reinterpret_cast<const GmBvhTriangle *>(tris_address);
  auto *indices = reinterpret_cast<const uint32_t *>(indices_address);
  auto *normals = reinterpret_cast<GmBvhPseudoNormals *>(normals_out);
  cudaError_t error = cudaMemsetAsync(sc.sums, 0, 3 * vertex_count * sizeof(float), s);
  if (error != cudaSuccess) return gm_cuda_failure("cudaMemsetAsync", error);
  vertex_normals_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(tris, indices, n, sc.sums);
  edge_keys_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(indices, n, sc.keys[0],
                                                                sc.values[0]);
  int status = gm_launch_check("vertex_normals_kernel, edge_keys_kernel");
  if (status != GM_OK) return status;
  status = sort_pairs<uint64_t>(sc.sort_temp, sc.sort_bytes, sc.keys, sc.values, 3 * n, 64, s);
  if (status != GM_OK) return status;
  edge_normals_kernel<<<gm_blocks_for(3 * n, kThreads), kThreads, 0, s>>>(sc.keys[1], sc.values[1],
                                                                       3 * n, tris, normals);
  vertex_gather_kernel<<<gm_blocks_for(n, kThreads), kThreads, 0, s>>>(indices, n, sc.sums, normals);
  return gm_launch_check("edge_normals_kernel, vertex_gather_kernel");
}

/* Whether `count` queries go in space-filling-curve order: closest points when there are enough
 * to pay; rays never (bunny +27%, terrain +8% in their input order, the rest no change: rays
 * from one region go every way, so their curve order shares few node fetches). */
static bool curve_ordered(uint64_t count, int rays) {
  return !rays && count >= GM_QUERY_SORT_MIN;
}

extern "C" int gm_bvh_query_scratch(uint64_t count, int rays, uint64_t *bytes) {
  bool sorted = curve_ordered(count, rays);
  *bytes = GmQueryScratch(0, count, sorted, sorted ? sort_temp_bytes<uint32_t>(count) : 0).total;
  return gm_ok();
}

namespace {

GmBvhView view_of(const uint64_t *bvh) {
  GmBvhView v;
  v.nodes = reinterpret_cast<const GmBvhNode *>(bvh[GM_BVH_NODES]);
  v.distance_nodes = gm_distance_nodes(v.nodes, bvh[GM_BVH_NODE_COUNT]);
  v.tris = reinterpret_cast<const GmBvhTriangle *>(bvh[GM_BVH_TRIANGLES]);
  v.winding = reinterpret_cast<const GmBvhWinding *>(bvh[GM_BVH_WINDING]);
  v.normals = reinterpret_cast<const GmBvhPseudoNormals *>(bvh[GM_BVH_NORMALS]);
  v.node_count = static_cast<uint32_t>(bvh[GM_BVH_NODE_COUNT]);
  v.triangle_count = static_cast<uint32_t>(bvh[GM_BVH_TRIANGLE_COUNT]);
  return v;
}

/* The query scratch of `count` queries (rays or points), its deferred count zeroed and, where
 * curve_ordered says so, their space-filling-curve order in *order (else null). */
template <typename P>
int prepare_queries(const GmFrame &frame, const P *points, uint64_t count, int rays,
                    uint64_t scratch, uint64_t scratch_bytes, cudaStream_t s, GmQueryScratch *sc,
                    const uint32_t **order) {
  bool sorted = curve_ordered(count, rays);
  *sc = GmQueryScratch(scratch, count, sorted, sorted ? sort_temp_bytes<uint32_t>(count) : 0);
  *order = nullptr;
  if (scratch == 0 || sc->total > scratch_bytes) {
    return gm_fail(GM_INVALID_ARGUMENT, "query scratch too small");
  }
  cudaError_t error = cudaMemsetAsync(sc->deferred_count, 0, sizeof(uint32_t), s);
  if (error != cudaSuccess) return gm_cuda_failure("cudaMemsetAsync", error);
  if (!sorted) return GM_OK;
  query_morton_kernel<<<gm_blocks_for(count, kThreads), kThreads, 0, s>>>(frame, points, count,
                                                                       sc->keys[0], sc->values[0]);
  int status = gm_launch_check("query_morton_kernel");
  if (status != GM_OK) return status;
  status = sort_pairs<uint32_t>(sc->sort_temp, sc->sort_bytes, sc->keys, sc->values, count, 30, s);
  *order = sc->values[1];
  return status;
}

unsigned deferred_blocks(uint64_t count) {
  return static_cast<unsigned>(gm_deferred_warps(count) * 32 / kQueryThreads);
}

template <typename P>
int closest(const GmBvhView &bvh, const GmFrame &frame, const P *points, uint64_t count,
            float limit, int sign_mode, uint64_t distance, uint64_t face, uint64_t point,
            uint64_t bary, uint64_t scratch, uint64_t scratch_bytes, uint64_t status,
            cudaStream_t s) {
  GmQueryScratch sc(0, 0, false, 0);
  const uint32_t *order;
  int result = prepare_queries(frame, points, count, 0, scratch, scratch_bytes, s, &sc, &order);
  if (result != GM_OK) return result;
  auto *d = reinterpret_cast<float *>(distance);
  auto *f = reinterpret_cast<int32_t *>(face);
  auto *p = reinterpret_cast<float *>(point);
  auto *b = reinterpret_cast<float *>(bary);
  auto *st = reinterpret_cast<uint32_t *>(status);
  closest_first_kernel<<<gm_blocks_for(count, kQueryThreads), kQueryThreads, 0, s>>>(
      bvh, frame, points, count, order, limit, sign_mode, d, f, p, b, sc.deferred,
      sc.deferred_count, st);
  closest_deferred_kernel<<<deferred_blocks(count), kQueryThreads, 0, s>>>(
      bvh, frame, points, limit, sign_mode, d, f, p, b, sc.deferred, sc.deferred_count,
      sc.warp_stacks, st);
  return gm_launch_check("closest kernels");
}

template <typename P>
int rays(const GmBvhView &bvh, const GmFrame &frame, const P *origins, const P *directions,
         uint64_t count, float t_max, int any_hit, uint64_t t_out, uint64_t face, uint64_t bary,
         uint64_t scratch, uint64_t scratch_bytes, uint64_t status, cudaStream_t s) {
  GmQueryScratch sc(0, 0, false, 0);
  const uint32_t *order;
  int result = prepare_queries(frame, origins, count, 1, scratch, scratch_bytes, s, &sc, &order);
  if (result != GM_OK) return result;
  auto *t = reinterpret_cast<float *>(t_out);
  auto *f = reinterpret_cast<int32_t *>(face);
  auto *b = reinterpret_cast<float *>(bary);
  auto *st = reinterpret_cast<uint32_t *>(status);
  auto *first_pass = bvh.node_count < kMostNodesTogether ? ray_first_kernel<P, true>
                                                          : ray_first_kernel<P, false>;
  first_pass<<<gm_blocks_for(count, kQueryThreads), kQueryThreads, 0, s>>>(
      bvh, frame, origins, directions, count, order, t_max, any_hit, t, f, b, sc.deferred,
      sc.deferred_count, st);
  ray_deferred_kernel<<<deferred_blocks(count), kQueryThreads, 0, s>>>(
      bvh, frame, origins, directions, t_max, any_hit, t, f, b, sc.deferred, sc.deferred_count, st);
  return gm_launch_check("ray kernels");
}

}  // namespace

extern "C" int gm_bvh_closest(int device, const uint64_t *bvh, const double *frame_words,
                              uint64_t points, int points_f64, uint64_t count, float limit,
                              int sign_mode, uint64_t distance, uint64_t face, uint64_t point,
                              uint64_t bary, uint64_t scratch, uint64_t scratch_bytes,
                              uint64_t status, void *stream) {
  if (count == 0) return gm_ok();
  if (points == 0 || status == 0) return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_closest: null address");
  GM_CUDA_SCOPE(device);
  GmFrame frame;
  gm_frame_init(frame, frame_words);
  GmBvhView view = view_of(bvh);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  cudaError_t error = cudaMemsetAsync(reinterpret_cast<void *>(status), 0, sizeof(uint32_t), s);
  if (error != cudaSuccess) return gm_cuda_failure("cudaMemsetAsync", error);
  return points_f64 ? closest(view, frame, reinterpret_cast<const double *>(points), count, limit,
                              sign_mode, distance, face, point, bary, scratch, scratch_bytes,
                              status, s)
                    : closest(view, frame, reinterpret_cast<const float *>(points), count, limit,
                              sign_mode, distance, face, point, bary, scratch, scratch_bytes,
                              status, s);
}

extern "C" int gm_bvh_ray(int device, const uint64_t *bvh, const double *frame_words,
                          uint64_t origins, uint64_t directions, int f64, uint64_t count,
                          float t_max, int any_hit, uint64_t t_out, uint64_t face, uint64_t bary,
                          uint64_t scratch, uint64_t scratch_bytes, uint64_t status,
                          void *stream) {
  if (count == 0) return gm_ok();
  if (origins == 0 || directions == 0 || status == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_ray: null address");
  }
  GM_CUDA_SCOPE(device);
  GmFrame frame;
  gm_frame_init(frame, frame_words);
  GmBvhView view = view_of(bvh);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  cudaError_t error = cudaMemsetAsync(reinterpret_cast<void *>(status), 0, sizeof(uint32_t), s);
  if (error != cudaSuccess) return gm_cuda_failure("cudaMemsetAsync", error);
  return f64 ? rays(view, frame, reinterpret_cast<const double *>(origins),
                    reinterpret_cast<const double *>(directions), count, t_max, any_hit, t_out,
                    face, bary, scratch, scratch_bytes, status, s)
             : rays(view, frame, reinterpret_cast<const float *>(origins),
                    reinterpret_cast<const float *>(directions), count, t_max, any_hit, t_out,
                    face, bary, scratch, scratch_bytes, status, s);
}
