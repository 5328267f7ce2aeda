/* A binned-SAH hierarchy for small meshes, built on the host by both libraries (the CUDA build
 * downloads the gathered triangles, at most GM_SAH_MAX_TRIANGLES of them), so both make the same
 * tree. It fills the Karras scratch (bvh_build_steps.h) with a full binary tree down to single
 * triangles, as gm_step_karras does, and the order to gather them in, so that the scan, emit and
 * bottom-up steps run unchanged. Ranges above GM_SAH_MIN_TRIANGLES split by the surface-area
 * heuristic over 16 bins of centroids per axis (Wald 2007); the rest, and every range at
 * GM_SAH_MAX_DEPTH or deeper, at their median along the widest axis. Morton order is what a GPU
 * builds millions of triangles in; under a few thousand, this tree answers queries 10-50% faster
 * (H200, bench/RESULTS.md) for ~2.5 ms more build. */
#ifndef GPUMEM_BVH_SAH_H
#define GPUMEM_BVH_SAH_H

#include <stdint.h>

#include <algorithm>
#include <vector>

#include "bvh_build_steps.h"

/* Meshes of at most this many triangles get the SAH hierarchy: its host build costs the bunny
 * (3,674) ~2.5 ms more than the GPU's Morton build, and grows as n log n. */
#define GM_SAH_MAX_TRIANGLES 8192u
/* Ranges of at most this many triangles are split at their median along the widest axis: the
 * same queries, 15% less build time than binning them too. */
#define GM_SAH_MIN_TRIANGLES 16u
/* Ranges this deep are split at their median whatever their size, so that the tree stays within
 * GM_BVH_STACK levels: SAH splits may peel off one triangle a level (triangles at doubling
 * distances), and 40 levels plus the log2(8,192) = 13 of median splits stay under 64. */
#define GM_SAH_MAX_DEPTH 40

/* Whether a mesh of n triangles gets the SAH hierarchy (a single leaf needs no hierarchy). */
inline bool gm_sah_builds(uint64_t n, uint32_t leaf_size) {
  return n > leaf_size && n <= GM_SAH_MAX_TRIANGLES;
}

namespace gm_sah {

constexpr int kBins = 16; /* 8 and 32 measured the same on the bunny */

struct Bounds {
  float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  void grow(const float *l, const float *h) {
    for (int k = 0; k < 3; k++) lo[k] = std::min(lo[k], l[k]), hi[k] = std::max(hi[k], h[k]);
  }
  void grow(const Bounds &b) { grow(b.lo, b.hi); }
  /* Half the surface area (the heuristic only compares them); 0 when empty. */
  float area() const {
    if (!(lo[0] <= hi[0])) return 0.0f;
    float x = hi[0] - lo[0], y = hi[1] - lo[1], z = hi[2] - lo[2];
    return x * y + y * z + z * x;
  }
};

/* The bounds of the centroids of the triangles at positions first..last. */
inline Bounds centroid_bounds(const std::vector<GmVec3<float>> &centre, const uint32_t *order,
                              uint32_t first, uint32_t last) {
  Bounds b;
  for (uint32_t s = first; s <= last; s++) b.grow(&centre[order[s]].x, &centre[order[s]].x);
  return b;
}

/* A range of positions waiting for its node: numbered when taken off the stack (so in depth-first
 * order), which then names it in its parent's child `side`. */
struct Range {
  uint32_t first, last, parent;
  int side, depth;
};

}  // namespace gm_sah

/* The last position of the left child of positions first..last (reordering `order` so that the
 * left child's triangles come first): the binned-SAH split, or `middle` when every centroid
 * falls in one bin. */
inline uint32_t gm_sah_split(const std::vector<gm_sah::Bounds> &box,
                             const std::vector<GmVec3<float>> &centre, uint32_t *order,
                             uint32_t first, uint32_t last, uint32_t middle) {
  using gm_sah::Bounds;
  using gm_sah::kBins;
  Bounds cb = gm_sah::centroid_bounds(centre, order, first, last);
  float scale[3];
  for (int axis = 0; axis < 3; axis++) {
    float extent = cb.hi[axis] - cb.lo[axis];
    scale[axis] = extent > 0.0f ? kBins / extent : 0.0f;
  }
  auto bin_of = [&](uint32_t t, int axis) {
    float at = ((&centre[t].x)[axis] - cb.lo[axis]) * scale[axis];
    return std::min(kBins - 1, static_cast<int>(at));
  };
  /* All three axes binned in one pass over the triangles. */
  Bounds bins[3][kBins];
  uint32_t counts[3][kBins] = {};
  for (uint32_t s = first; s <= last; s++) {
    uint32_t t = order[s];
    for (int axis = 0; axis < 3; axis++) {
      int b = bin_of(t, axis);
      bins[axis][b].grow(box[t]);
      counts[axis][b]++;
    }
  }
  float best = INFINITY;
  int best_axis = -1, best_bin = 0;
  for (int axis = 0; axis < 3; axis++) {
    if (scale[axis] == 0.0f) continue;
    /* Right-hand areas and counts swept from the top, then the left-hand side from the bottom. */
    float right_area[kBins];
    uint32_t right_count[kBins];
    Bounds right;
    uint32_t total = 0;
    for (int b = kBins - 1; b > 0; b--) {
      right.grow(bins[axis][b]);
      total += counts[axis][b];
      right_area[b] = right.area(), right_count[b] = total;
    }
    Bounds left;
    uint32_t left_count = 0;
    for (int b = 0; b < kBins - 1; b++) {
      left.grow(bins[axis][b]);
      left_count += counts[axis][b];
      if (left_count == 0 || right_count[b + 1] == 0) continue;
      float cost = left.area() * left_count + right_area[b + 1] * right_count[b + 1];
      if (cost < best) best = cost, best_axis = axis, best_bin = b;
    }
  }
  if (best_axis < 0) return middle;
  uint32_t *split = std::partition(order + first, order + last + 1, [&](uint32_t t) {
    return bin_of(t, best_axis) <= best_bin;
  });
  return static_cast<uint32_t>(split - order) - 1;
}

/* Puts the triangles of positions first..last in order along their centroids' widest axis up to
 * position `middle`, so that first..middle hold the lower half. */
inline void gm_median_split(const std::vector<GmVec3<float>> &centre, uint32_t *order,
                            uint32_t first, uint32_t last, uint32_t middle) {
  gm_sah::Bounds cb = gm_sah::centroid_bounds(centre, order, first, last);
  int axis = 0;
  for (int k = 1; k < 3; k++) {
    if (cb.hi[k] - cb.lo[k] > cb.hi[axis] - cb.lo[axis]) axis = k;
  }
  std::nth_element(order + first, order + middle, order + last + 1, [&](uint32_t a, uint32_t b) {
    float at_a = (&centre[a].x)[axis], at_b = (&centre[b].x)[axis];
    return at_a < at_b || (at_a == at_b && a < b);
  });
}

/* Fills order[s] (the input triangle at position s), karras[0 .. n-2] and kept[] for the n
 * triangles `tris` (gathered in input order), n >= 2. */
inline void gm_sah_hierarchy(const GmBvhTriangle *tris, uint64_t n, uint32_t leaf_size,
                             uint32_t *order, GmKarrasNode *karras, uint32_t *kept) {
  using gm_sah::Bounds;
  std::vector<Bounds> box(n);
  std::vector<GmVec3<float>> centre(n);
  for (uint64_t t = 0; t < n; t++) {
    const float *v[3] = {tris[t].a, tris[t].b, tris[t].c};
    for (int corner = 0; corner < 3; corner++) box[t].grow(v[corner], v[corner]);
    /* As gm_centroid computes it from the same float vertices. */
    centre[t] = gm_vec((v[0][0] + v[1][0] + v[2][0]) * (1.0f / 3.0f),
                       (v[0][1] + v[1][1] + v[2][1]) * (1.0f / 3.0f),
                       (v[0][2] + v[1][2] + v[2][2]) * (1.0f / 3.0f));
    order[t] = static_cast<uint32_t>(t);
  }
  std::vector<gm_sah::Range> stack = {{0, static_cast<uint32_t>(n - 1), 0xFFFFFFFFu, 0, 0}};
  uint32_t next = 0;
  while (!stack.empty()) {
    gm_sah::Range r = stack.back();
    stack.pop_back();
    uint32_t id = next++;
    if (r.parent != 0xFFFFFFFFu) karras[r.parent].child[r.side] = id;
    uint32_t count = r.last - r.first + 1;
    uint32_t split = r.first + count / 2 - 1; /* the last position of the left child */
    if (count > GM_SAH_MIN_TRIANGLES && r.depth < GM_SAH_MAX_DEPTH) {
      split = gm_sah_split(box, centre, order, r.first, r.last, split);
    } else if (count > leaf_size) {
      gm_median_split(centre, order, r.first, r.last, split);
    }
    GmKarrasNode &node = karras[id];
    node.first = r.first, node.last = r.last, node.parent = r.parent;
    node.kept = kept[id] = count > leaf_size ? 1u : 0u;
    /* One triangle is a leaf; more, a node, the left one taken first (pushed last). */
    node.child[0] = GM_LEAF_BIT | r.first;
    node.child[1] = GM_LEAF_BIT | (split + 1);
    if (r.last > split + 1) stack.push_back({split + 1, r.last, id, 1, r.depth + 1});
    if (split > r.first) stack.push_back({r.first, split, id, 0, r.depth + 1});
  }
}

#endif
