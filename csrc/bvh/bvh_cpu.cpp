/* The CPU build of the mesh BVH: the same steps (bvh_build_steps.h) and queries (bvh_elements.h)
 * as the CUDA build, as parallel loops over host memory, with std::sort where CUDA sorts with
 * CUB (the same stable order: by key, then by index). Done on return. */
#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

#include "../gpumem.h"
#include "../parallel_for.h"
#include "../status.h"
#include "bvh_elements.h"
#include "bvh_sah.h"
#include "bvh_scratch.h"

namespace {

template <typename T>
T *at(uint64_t address) {
  return reinterpret_cast<T *>(address);
}

/* Sorts (keys[0][i], values[0][i]) by key, then value, into keys[1] and values[1]. */
template <typename Key>
void sort_pairs(Key *const keys[2], uint32_t *const values[2], uint64_t n) {
  std::vector<std::pair<Key, uint32_t>> pairs(n);
  gm_parallel_for(n, [&](uint64_t i) { pairs[i] = {keys[0][i], values[0][i]}; });
  std::sort(pairs.begin(), pairs.end());
  gm_parallel_for(n, [&](uint64_t i) {
    keys[1][i] = pairs[i].first;
    values[1][i] = pairs[i].second;
  });
}

template <typename V>
void validate(const V *vertices, uint64_t vertex_count, const uint32_t *triangles,
              uint64_t triangle_count, uint64_t *report) {
  std::atomic<uint64_t> bad{0}, nonfinite{0}, first_bad{UINT64_MAX}, first_nonfinite{UINT64_MAX};
  auto lower = [](std::atomic<uint64_t> &word, uint64_t value) {
    uint64_t seen = word.load();
    while (value < seen && !word.compare_exchange_weak(seen, value)) {
    }
  };
  gm_parallel_ranges(3 * triangle_count, [&](uint64_t begin, uint64_t end, unsigned) {
    uint64_t count = 0, first = UINT64_MAX;
    for (uint64_t i = begin; i < end; i++) {
      if (gm_bad_index(triangles[i], vertex_count)) count++, first = first < i ? first : i;
    }
    bad += count;
    lower(first_bad, first);
  });
  gm_parallel_ranges(3 * vertex_count, [&](uint64_t begin, uint64_t end, unsigned) {
    uint64_t count = 0, first = UINT64_MAX;
    for (uint64_t i = begin; i < end; i++) {
      if (gm_bad_value(vertices[i])) count++, first = first < i ? first : i;
    }
    nonfinite += count;
    lower(first_nonfinite, first);
  });
  report[GM_VALIDATE_BAD_INDICES] = bad;
  report[GM_VALIDATE_FIRST_BAD_INDEX] = first_bad;
  report[GM_VALIDATE_NONFINITE] = nonfinite;
  report[GM_VALIDATE_FIRST_NONFINITE] = first_nonfinite;
}

/* Numbers the kept Karras nodes in order (an exclusive scan into sc.index); returns how many. */
uint32_t number_kept(GmBuildScratch &sc, uint64_t n) {
  uint32_t kept = 0;
  for (uint64_t i = 0; i + 1 < n; i++) {
    sc.index[i] = kept;
    kept += sc.karras[i].kept;
  }
  return kept;
}

template <typename V>
void build_tree(const V *vertices, const uint32_t *triangles, uint64_t n, const double *origin,
                uint32_t leaf_size, GmBuildScratch &sc, GmBvhTriangle *tris, uint32_t *indices,
                uint32_t *node_count) {
  if (gm_sah_builds(n, leaf_size)) {
    /* Gathered in input order for the SAH hierarchy, then again in its order. */
    for (uint64_t t = 0; t < n; t++) sc.values[0][t] = static_cast<uint32_t>(t);
    gm_parallel_for(n, [&](uint64_t s) {
      gm_step_gather(s, vertices, triangles, origin, sc.values[0], tris, indices);
    });
    gm_sah_hierarchy(tris, n, leaf_size, sc.values[1], sc.karras, sc.kept);
    gm_parallel_for(n, [&](uint64_t s) {
      gm_step_gather(s, vertices, triangles, origin, sc.values[1], tris, indices);
    });
    *node_count = number_kept(sc, n);
    return;
  }
  std::vector<float> lo(3 * gm_cpu_threads(), INFINITY), hi(3 * gm_cpu_threads(), -INFINITY);
  gm_parallel_ranges(n, [&](uint64_t begin, uint64_t end, unsigned worker) {
    float *l = &lo[3 * worker], *h = &hi[3 * worker];
    for (uint64_t t = begin; t < end; t++) {
      GmVec3<float> c = gm_centroid(vertices, triangles, t, origin);
      l[0] = std::min(l[0], c.x), l[1] = std::min(l[1], c.y), l[2] = std::min(l[2], c.z);
      h[0] = std::max(h[0], c.x), h[1] = std::max(h[1], c.y), h[2] = std::max(h[2], c.z);
    }
  });
  float bounds_lo[3] = {INFINITY, INFINITY, INFINITY}, bounds_hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (size_t w = 0; w < lo.size() / 3; w++) {
    for (int k = 0; k < 3; k++) {
      bounds_lo[k] = std::min(bounds_lo[k], lo[3 * w + k]);
      bounds_hi[k] = std::max(bounds_hi[k], hi[3 * w + k]);
    }
  }
  float scale[3];
  gm_morton_scale(bounds_lo, bounds_hi, scale);
  gm_parallel_for(n, [&](uint64_t t) {
    gm_step_morton(t, vertices, triangles, origin, bounds_lo, scale, sc.keys[0], sc.values[0]);
  });
  sort_pairs<uint32_t>(sc.keys, sc.values, n);
  gm_parallel_for(n, [&](uint64_t s) {
    gm_step_gather(s, vertices, triangles, origin, sc.values[1], tris, indices);
  });
  if (n <= leaf_size) {
    *node_count = 1;
    return;
  }
  gm_parallel_for(n - 1, [&](uint64_t i) {
    gm_step_karras(static_cast<int64_t>(i), sc.keys[1], static_cast<int64_t>(n), leaf_size,
                   sc.karras);
  });
  *node_count = number_kept(sc, n);
}

/* Boxes and dipoles bottom-up, then the oriented boxes. */
void bottom_up(GmBvhNode *nodes, GmBvhWinding *winding, const GmBvhTriangle *tris,
               const int32_t *parents, int32_t *pending, uint64_t node_count) {
  gm_parallel_for(node_count, [&](uint64_t j) {
    gm_step_bottom_up(static_cast<int32_t>(j), nodes, winding, tris, parents, pending);
  });
  GmBvhDistanceNode *distance_nodes = gm_distance_nodes(nodes, node_count);
  gm_parallel_for(node_count, [&](uint64_t j) {
    gm_step_oriented(j, nodes, winding, distance_nodes, tris);
  });
}

GmBvhView view_of(const uint64_t *bvh) {
  GmBvhView v;
  v.nodes = at<const GmBvhNode>(bvh[GM_BVH_NODES]);
  v.distance_nodes = gm_distance_nodes(v.nodes, bvh[GM_BVH_NODE_COUNT]);
  v.tris = at<const GmBvhTriangle>(bvh[GM_BVH_TRIANGLES]);
  v.winding = at<const GmBvhWinding>(bvh[GM_BVH_WINDING]);
  v.normals = at<const GmBvhPseudoNormals>(bvh[GM_BVH_NORMALS]);
  v.node_count = static_cast<uint32_t>(bvh[GM_BVH_NODE_COUNT]);
  v.triangle_count = static_cast<uint32_t>(bvh[GM_BVH_TRIANGLE_COUNT]);
  return v;
}

/* Runs query(i, &status) for every i, or'ing each thread's status bits into *status. */
template <typename Query>
void run_queries(uint64_t count, uint32_t *status, Query query) {
  std::atomic<uint32_t> bits{0};
  *status = 0;
  gm_parallel_ranges(count, [&](uint64_t begin, uint64_t end, unsigned) {
    uint32_t local = 0;
    for (uint64_t i = begin; i < end; i++) query(i, &local);
    bits |= local;
  });
  *status = bits.load();
}

}  // namespace

extern "C" int gm_bvh_validate(int /*device*/, uint64_t vertices, uint64_t vertex_count,
                               int vertex_f64, uint64_t triangles, uint64_t triangle_count,
                               uint64_t report, void * /*stream*/) {
  if (report == 0 || (vertex_count > 0 && vertices == 0) || (triangle_count > 0 && triangles == 0)) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_validate: null address");
  }
  if (vertex_f64) {
    validate(at<const double>(vertices), vertex_count, at<const uint32_t>(triangles),
             triangle_count, at<uint64_t>(report));
  } else {
    validate(at<const float>(vertices), vertex_count, at<const uint32_t>(triangles),
             triangle_count, at<uint64_t>(report));
  }
  return gm_ok();
}

extern "C" int gm_bvh_build_scratch(uint64_t triangle_count, uint64_t *bytes) {
  if (triangle_count == 0 || triangle_count >= 0x7FFFFFFFull) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_build_scratch: %llu triangles",
                   static_cast<unsigned long long>(triangle_count));
  }
  *bytes = GmBuildScratch(0, triangle_count, 0).total;
  return gm_ok();
}

extern "C" int gm_bvh_build_tree(int /*device*/, uint64_t vertices, uint64_t /*vertex_count*/,
                                 int vertex_f64, uint64_t triangles, uint64_t triangle_count,
                                 const double *origin, uint32_t leaf_size, uint64_t scratch,
                                 uint64_t scratch_bytes, uint64_t tris_out, uint64_t indices_out,
                                 uint64_t node_count_out, void * /*stream*/) {
  uint64_t n = triangle_count;
  if (n == 0 || leaf_size == 0 || scratch == 0 || tris_out == 0 || indices_out == 0 ||
      node_count_out == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_build_tree: empty mesh or null address");
  }
  GmBuildScratch sc(scratch, n, 0);
  if (sc.total > scratch_bytes) return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_build_tree: scratch too small");
  auto *tri = at<const uint32_t>(triangles);
  if (vertex_f64) {
    build_tree(at<const double>(vertices), tri, n, origin, leaf_size, sc,
               at<GmBvhTriangle>(tris_out), at<uint32_t>(indices_out), at<uint32_t>(node_count_out));
  } else {
    build_tree(at<const float>(vertices), tri, n, origin, leaf_size, sc,
               at<GmBvhTriangle>(tris_out), at<uint32_t>(indices_out), at<uint32_t>(node_count_out));
  }
  return gm_ok();
}

extern "C" int gm_bvh_build_nodes(int /*device*/, uint64_t triangle_count, uint32_t leaf_size,
                                  uint64_t scratch, uint64_t scratch_bytes, uint64_t nodes_out,
                                  uint64_t winding_out, uint64_t parents_out, uint64_t node_count,
                                  uint64_t tris, void * /*stream*/) {
  uint64_t n = triangle_count;
  if (n == 0 || node_count == 0 || nodes_out == 0 || winding_out == 0 || parents_out == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_build_nodes: empty tree or null address");
  }
  GmBuildScratch sc(scratch, n, 0);
  if (sc.total > scratch_bytes) return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_build_nodes: scratch too small");
  auto *nodes = at<GmBvhNode>(nodes_out);
  auto *parents = at<int32_t>(parents_out);
  if (n <= leaf_size) {
    gm_emit_single_leaf(static_cast<uint32_t>(n), nodes, gm_distance_nodes(nodes, node_count),
                        parents, sc.pending);
  } else {
    GmBvhDistanceNode *distance_nodes = gm_distance_nodes(nodes, node_count);
    gm_parallel_for(n - 1, [&](uint64_t i) {
      gm_step_emit(static_cast<int64_t>(i), sc.karras, sc.index, nodes, distance_nodes, parents,
                   sc.pending);
    });
  }
  bottom_up(nodes, at<GmBvhWinding>(winding_out), at<const GmBvhTriangle>(tris), parents,
            sc.pending, node_count);
  return gm_ok();
}

extern "C" int gm_bvh_refit(int /*device*/, uint64_t vertices, int vertex_f64,
                            const double *origin, const uint64_t *bvh, uint64_t indices,
                            uint64_t parents, uint64_t pending, void * /*stream*/) {
  uint64_t n = bvh[GM_BVH_TRIANGLE_COUNT], node_count = bvh[GM_BVH_NODE_COUNT];
  if (n == 0 || node_count == 0 || vertices == 0 || pending == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_refit: empty tree or null address");
  }
  auto *tris = at<GmBvhTriangle>(bvh[GM_BVH_TRIANGLES]);
  auto *nodes = at<GmBvhNode>(bvh[GM_BVH_NODES]);
  auto *idx = at<const uint32_t>(indices);
  auto *counters = at<int32_t>(pending);
  gm_parallel_for(n, [&](uint64_t s) {
    if (vertex_f64) {
      gm_step_regather(s, at<const double>(vertices), idx, origin, tris);
    } else {
      gm_step_regather(s, at<const float>(vertices), idx, origin, tris);
    }
  });
  gm_parallel_for(node_count, [&](uint64_t j) { gm_step_pending(j, nodes, counters); });
  bottom_up(nodes, at<GmBvhWinding>(bvh[GM_BVH_WINDING]), tris, at<const int32_t>(parents),
            counters, node_count);
  return gm_ok();
}

extern "C" int gm_bvh_normals_scratch(uint64_t triangle_count, uint64_t vertex_count,
                                      uint64_t *bytes) {
  *bytes = GmNormalsScratch(0, triangle_count, vertex_count, 0).total;
  return gm_ok();
}

extern "C" int gm_bvh_normals(int /*device*/, uint64_t tris_address, uint64_t indices_address,
                              uint64_t triangle_count, uint64_t vertex_count, uint64_t scratch,
                              uint64_t scratch_bytes, uint64_t normals_out, void * /*stream*/) {
  uint64_t n = triangle_count;
  GmNormalsScratch sc(scratch, n, vertex_count, 0);
  if (sc.total > scratch_bytes || normals_out == 0 || scratch == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_normals: scratch too small or null output");
  }
  auto *tris = at<const GmBvhTriangle>(tris_address);
  auto *indices = at<const uint32_t>(indices_address);
  auto *normals = at<GmBvhPseudoNormals>(normals_out);
  std::fill(sc.sums, sc.sums + 3 * vertex_count, 0.0f);
  /* One thread: vertex sums are shared between triangles (the CUDA build adds atomically). */
  for (uint64_t s = 0; s < n; s++) {
    gm_step_vertex_normals(s, tris, indices, sc.sums, [](float *p, float v) { *p += v; });
  }
  gm_parallel_for(n, [&](uint64_t s) { gm_step_edge_keys(s, indices, sc.keys[0], sc.values[0]); });
  sort_pairs<uint64_t>(sc.keys, sc.values, 3 * n);
  gm_parallel_for(3 * n, [&](uint64_t e) {
    gm_step_edge_normals(e, 3 * n, sc.keys[1], sc.values[1], tris, normals);
  });
  gm_parallel_for(n, [&](uint64_t s) { gm_step_vertex_gather(s, indices, sc.sums, normals); });
  return gm_ok();
}

extern "C" int gm_bvh_query_scratch(uint64_t /*count*/, int /*rays*/, uint64_t *bytes) {
  *bytes = 0; /* the CPU build answers queries in input order */
  return gm_ok();
}

extern "C" int gm_bvh_closest(int /*device*/, const uint64_t *bvh, const double *frame_words,
                              uint64_t points, int points_f64, uint64_t count, float limit,
                              int sign_mode, uint64_t distance, uint64_t face, uint64_t point,
                              uint64_t bary, uint64_t /*scratch*/, uint64_t /*scratch_bytes*/,
                              uint64_t status, void * /*stream*/) {
  if (count == 0) return gm_ok();
  if (points == 0 || status == 0) return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_closest: null address");
  GmFrame frame;
  gm_frame_init(frame, frame_words);
  GmBvhView view = view_of(bvh);
  run_queries(count, at<uint32_t>(status), [&](uint64_t i, uint32_t *local) {
    if (points_f64) {
      gm_closest_element(i, view, frame, at<const double>(points), limit, sign_mode,
                         at<float>(distance), at<int32_t>(face), at<float>(point), at<float>(bary),
                         local);
    } else {
      gm_closest_element(i, view, frame, at<const float>(points), limit, sign_mode,
                         at<float>(distance), at<int32_t>(face), at<float>(point), at<float>(bary),
                         local);
    }
  });
  return gm_ok();
}

extern "C" int gm_bvh_ray(int /*device*/, const uint64_t *bvh, const double *frame_words,
                          uint64_t origins, uint64_t directions, int f64, uint64_t count,
                          float t_max, int any_hit, uint64_t t_out, uint64_t face, uint64_t bary,
                          uint64_t /*scratch*/, uint64_t /*scratch_bytes*/, uint64_t status,
                          void * /*stream*/) {
  if (count == 0) return gm_ok();
  if (origins == 0 || directions == 0 || status == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_bvh_ray: null address");
  }
  GmFrame frame;
  gm_frame_init(frame, frame_words);
  GmBvhView view = view_of(bvh);
  run_queries(count, at<uint32_t>(status), [&](uint64_t i, uint32_t *local) {
    if (f64) {
      gm_ray_element(i, view, frame, at<const double>(origins),
                     at<const double>(directions), t_max, any_hit, at<float>(t_out),
                     at<int32_t>(face), at<float>(bary), local);
    } else {
      gm_ray_element(i, view, frame, at<const float>(origins),
                     at<const float>(directions), t_max, any_hit, at<float>(t_out),
                     at<int32_t>(face), at<float>(bary), local);
    }
  });
  return gm_ok();
}
