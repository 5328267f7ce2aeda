/* How a build, a pseudo-normal pass and a query cut their one scratch allocation into arrays. Both
 * builds use these layouts; `sort_bytes` is the CUDA build's CUB temporary storage (0 on the CPU,
 * which sorts in place). */
#ifndef GPUMEM_BVH_SCRATCH_H
#define GPUMEM_BVH_SCRATCH_H

#include <stdint.h>

#include "../carver.h"
#include "bvh_build_steps.h"

struct GmBuildScratch {
  uint32_t *keys[2], *values[2];
  GmKarrasNode *karras;
  uint32_t *kept, *index;
  int32_t *pending;
  uint32_t *bounds; /* centroid bounds: 3 ordered-encoded minima, then 3 maxima */
  void *sort_temp;
  uint64_t sort_bytes;

  GmBuildScratch(uint64_t base, uint64_t n, uint64_t sort_temp_bytes) {
    GmCarver carve(base);
    for (int k = 0; k < 2; k++) keys[k] = carve.take<uint32_t>(n), values[k] = carve.take<uint32_t>(n);
    karras = carve.take<GmKarrasNode>(n);
    kept = carve.take<uint32_t>(n);
    index = carve.take<uint32_t>(n);
    pending = carve.take<int32_t>(n);
    bounds = carve.take<uint32_t>(8);
    sort_temp = carve.take<uint8_t>(sort_temp_bytes);
    sort_bytes = sort_temp_bytes;
    total = carve.used();
  }
  uint64_t total;
};

struct GmNormalsScratch {
  float *sums;
  uint64_t *keys[2];
  uint32_t *values[2];
  void *sort_temp;
  uint64_t sort_bytes;
  uint64_t total;

  GmNormalsScratch(uint64_t base, uint64_t triangles, uint64_t vertices, uint64_t sort_temp_bytes) {
    GmCarver carve(base);
    sums = carve.take<float>(3 * vertices);
    for (int k = 0; k < 2; k++) {
      keys[k] = carve.take<uint64_t>(3 * triangles);
      values[k] = carve.take<uint32_t>(3 * triangles);
    }
    sort_temp = carve.take<uint8_t>(sort_temp_bytes);
    sort_bytes = sort_temp_bytes;
    total = carve.used();
  }
};

/* Queries at least this many go in space-filling-curve order (measured: bench/RESULTS.md). */
#define GM_QUERY_SORT_MIN 32768
/* The CUDA build's second pass: warps that each take one deferred query (far from the mesh, or
 * past the first pass's node budget), and the traversal stack each warp shares. */
#define GM_DEFERRED_WARPS 512
#define GM_WARP_STACK 4096

/* Warps of the second pass for `count` queries: at most GM_DEFERRED_WARPS, whole blocks of 4. */
inline uint64_t gm_deferred_warps(uint64_t count) {
  uint64_t warps = count < GM_DEFERRED_WARPS ? count : GM_DEFERRED_WARPS;
  return (warps + 3) / 4 * 4;
}

struct GmQueryScratch {
  uint32_t *keys[2], *values[2]; /* the Morton order, when sorted */
  uint32_t *deferred;            /* indices of deferred queries */
  uint32_t *deferred_count;
  uint64_t *warp_stacks;         /* gm_deferred_warps stacks of GM_WARP_STACK (node, distance) */
  void *sort_temp;
  uint64_t sort_bytes;
  uint64_t total;

  GmQueryScratch(uint64_t base, uint64_t count, bool sorted, uint64_t sort_temp_bytes) {
    GmCarver carve(base);
    for (int k = 0; k < 2; k++) {
      keys[k] = carve.take<uint32_t>(sorted ? count : 0);
      values[k] = carve.take<uint32_t>(sorted ? count : 0);
    }
    deferred = carve.take<uint32_t>(count);
    deferred_count = carve.take<uint32_t>(1);
    warp_stacks = carve.take<uint64_t>(gm_deferred_warps(count) * GM_WARP_STACK);
    sort_temp = carve.take<uint8_t>(sorted ? sort_temp_bytes : 0);
    sort_bytes = sorted ? sort_temp_bytes : 0;
    total = carve.used();
  }
};

#endif
