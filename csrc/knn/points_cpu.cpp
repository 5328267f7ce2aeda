/* The CPU build of the point index and its queries: the same steps (point_index.h) and queries
 * (point_query.h) as the CUDA build, as parallel loops over host memory, with std::sort by
 * (code, index) where CUDA's stable radix sort gives the same order. Done on return. */
#include <algorithm>
#include <utility>
#include <vector>

#include "../gpumem.h"
#include "../parallel_for.h"
#include "../status.h"
#include "point_layout.h"
#include "point_query.h"

namespace {

template <typename V>
void frame_of(const V *points, uint64_t n, GmPointFrame *frame) {
  unsigned threads = gm_cpu_threads();
  std::vector<double> lo(3 * threads, INFINITY), hi(3 * threads, -INFINITY);
  std::vector<uint64_t> bad(threads, 0);
  gm_parallel_ranges(n, [&](uint64_t begin, uint64_t end, unsigned w) {
    for (uint64_t i = begin; i < end; i++) {
      for (int k = 0; k < 3; k++) {
        double v = static_cast<double>(points[3 * i + k]);
        if (std::isfinite(v)) {
          lo[3 * w + k] = std::min(lo[3 * w + k], v), hi[3 * w + k] = std::max(hi[3 * w + k], v);
        } else {
          bad[w]++;
        }
      }
    }
  });
  frame->nonfinite = 0;
  frame->reserved = 0;
  for (int k = 0; k < 3; k++) {
    double l = INFINITY, h = -INFINITY;
    for (unsigned w = 0; w < threads; w++) l = std::min(l, lo[3 * w + k]), h = std::max(h, hi[3 * w + k]);
    frame->lo[k] = gm_order_double(l);
    frame->hi[k] = gm_order_double(h);
  }
  for (unsigned w = 0; w < threads; w++) frame->nonfinite += bad[w];
}

template <typename P>
void order_of(P points, uint64_t n, const GmPointFrame *frame, uint32_t *order,
              uint64_t *sorted_codes, uint64_t *nonfinite) {
  GmPointGrid g = gm_point_grid(*frame);
  std::vector<std::pair<uint64_t, uint32_t>> pairs(n);
  std::vector<uint64_t> bad(gm_cpu_threads(), 0);
  gm_parallel_ranges(n, [&](uint64_t begin, uint64_t end, unsigned w) {
    for (uint64_t i = begin; i < end; i++) {
      pairs[i] = {gm_point_code(g, points, i), static_cast<uint32_t>(i)};
      float local[3];
      if (!gm_point_local(g, points, i, local)) bad[w]++;
    }
  });
  std::sort(pairs.begin(), pairs.end());
  gm_parallel_for(n, [&](uint64_t i) {
    order[i] = pairs[i].second;
    if (sorted_codes != nullptr) sorted_codes[i] = pairs[i].first;
  });
  *nonfinite = 0;
  for (uint64_t b : bad) *nonfinite += b;
}

template <typename P>
void index_of(P points, uint64_t n, const GmPointFrame *frame, const uint32_t *order,
              const GmPointOrderScratch &sc, uint64_t leaves, GmPointIndexLayout &layout) {
  GmPointGrid g = gm_point_grid(*frame);
  gm_parallel_for(n, [&](uint64_t i) {
    float local[3];
    gm_point_local(g, points, order[i], local);
    layout.points[i] = GmPoint4{local[0], local[1], local[2], order[i]};
  });
  gm_parallel_for(n, [&](uint64_t i) {
    if (sc.flags[i]) {
      layout.starts[sc.leaf_of[i]] = static_cast<uint32_t>(i);
      layout.leaf_codes[sc.leaf_of[i]] = sc.keys[1][i];
    }
  });
  layout.starts[leaves] = static_cast<uint32_t>(n);
  uint64_t base = layout.leaf_base;
  gm_parallel_for(base, [&](uint64_t b) {
    layout.nodes[base + b] = gm_leaf_box(layout.points, layout.starts, leaves, b);
  });
  for (uint64_t level = base / 2; level >= 1; level /= 2) {
    gm_parallel_for(level, [&](uint64_t j) {
      uint64_t i = level + j;
      layout.nodes[i] = gm_box_union(layout.nodes[2 * i], layout.nodes[2 * i + 1]);
    });
  }
}

}  // namespace

extern "C" int gm_points_plan(uint64_t n, uint64_t leaves, uint64_t *plan) {
  return gm_fill_point_plan(n, leaves, 0 /* the CPU build sorts in its own memory */, plan);
}

extern "C" int gm_points_frame(int, uint64_t points, uint64_t n, int f64, uint64_t frame, void *) {
  if (frame == 0 || (n > 0 && points == 0)) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_frame: null frame or points");
  }
  auto *f = reinterpret_cast<GmPointFrame *>(frame);
  if (f64) {
    frame_of(reinterpret_cast<const double *>(points), n, f);
  } else {
    frame_of(reinterpret_cast<const float *>(points), n, f);
  }
  return gm_ok();
}

extern "C" int gm_points_order(int, uint64_t points, uint64_t n, int f64, uint64_t frame,
                               uint64_t scratch, uint64_t scratch_bytes, uint64_t order_out,
                               uint64_t nonfinite, void *) {
  GmPointOrderScratch sc(scratch, n, 0);
  if (frame == 0 || nonfinite == 0 || sc.total > scratch_bytes ||
      (n > 0 && (points == 0 || order_out == 0))) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_order: scratch too small or null address");
  }
  auto *f = reinterpret_cast<const GmPointFrame *>(frame);
  auto *order = reinterpret_cast<uint32_t *>(order_out);
  auto *bad = reinterpret_cast<uint64_t *>(nonfinite);
  if (f64 == GM_POINTS_CENTRED) {
    order_of(GmCentred{reinterpret_cast<const float *>(points)}, n, f, order, sc.keys[1], bad);
  } else if (f64) {
    order_of(reinterpret_cast<const double *>(points), n, f, order, sc.keys[1], bad);
  } else {
    order_of(reinterpret_cast<const float *>(points), n, f, order, sc.keys[1], bad);
  }
  return gm_ok();
}

extern "C" int gm_points_leaves(int, uint64_t n, uint64_t scratch, uint64_t scratch_bytes,
                                uint64_t count_out, void *) {
  GmPointOrderScratch sc(scratch, n, 0);
  if (sc.total > scratch_bytes || count_out == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_leaves: scratch too small or null count");
  }
  gm_parallel_for(n, [&](uint64_t i) { sc.flags[i] = gm_leaf_starts_at(sc.keys[1], n, i); });
  uint32_t leaves = 0;
  for (uint64_t i = 0; i < n; i++) sc.leaf_of[i] = leaves, leaves += sc.flags[i];
  *reinterpret_cast<uint32_t *>(count_out) = leaves;
  return gm_ok();
}

extern "C" int gm_points_index(int, uint64_t points, uint64_t n, int f64, uint64_t frame,
                               uint64_t order, uint64_t scratch, uint64_t scratch_bytes,
                               uint64_t leaves, uint64_t index, void *) {
  GmPointOrderScratch sc(scratch, n, 0);
  if (frame == 0 || index == 0 || sc.total > scratch_bytes || leaves > n ||
      (n > 0 && (points == 0 || order == 0 || leaves == 0))) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_index: null address, small scratch or bad leaves");
  }
  GmPointIndexLayout layout(index, n, leaves);
  auto *f = reinterpret_cast<const GmPointFrame *>(frame);
  auto *o = reinterpret_cast<const uint32_t *>(order);
  if (f64 == GM_POINTS_CENTRED) {
    index_of(GmCentred{reinterpret_cast<const float *>(points)}, n, f, o, sc, leaves, layout);
  } else if (f64) {
    index_of(reinterpret_cast<const double *>(points), n, f, o, sc, leaves, layout);
  } else {
    index_of(reinterpret_cast<const float *>(points), n, f, o, sc, leaves, layout);
  }
  return gm_ok();
}

extern "C" int gm_points_offsets(int, uint64_t points, uint64_t n, int f64, uint64_t frame,
                                 uint64_t out, void *) {
  if (frame == 0 || (n > 0 && (points == 0 || out == 0))) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_offsets: null frame, points or output");
  }
  GmPointGrid g = gm_point_grid(*reinterpret_cast<const GmPointFrame *>(frame));
  auto *o = reinterpret_cast<float *>(out);
  gm_parallel_for(n, [&](uint64_t i) {
    if (f64) {
      gm_point_local(g, reinterpret_cast<const double *>(points), i, o + 3 * i);
    } else {
      gm_point_local(g, reinterpret_cast<const float *>(points), i, o + 3 * i);
    }
  });
  return gm_ok();
}

extern "C" int gm_points_query(int, const uint64_t *index, uint64_t queries, int f64,
                               uint64_t count, uint64_t order, uint32_t k, float radius2,
                               int flags, uint64_t out_begin, uint64_t out_end, uint64_t indices,
                               uint64_t distances, uint64_t counts, uint64_t features, void *) {
  if (index == nullptr || k < 1 || k > GM_POINT_MAX_K || out_end < out_begin ||
      (queries != 0 && order == 0)) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_points_query: bad index, k, range or order");
  }
  GmPointIndexView view = gm_point_view(index);
  auto *o = reinterpret_cast<const uint32_t *>(order);
  auto *ix = reinterpret_cast<int32_t *>(indices);
  auto *d = reinterpret_cast<float *>(distances);
  auto *c = reinterpret_cast<int32_t *>(counts);
  auto *fe = reinterpret_cast<float *>(features);
  gm_parallel_ranges(count, [&](uint64_t begin, uint64_t end, unsigned) {
    for (uint64_t i = begin; i < end; i++) {
      if (f64) {
        gm_point_query<GM_POINT_MAX_K>(view, reinterpret_cast<const double *>(queries), o, i,
                                       static_cast<int>(k), radius2, flags, out_begin, out_end,
                                       ix, d, c, fe);
      } else {
        gm_point_query<GM_POINT_MAX_K>(view, reinterpret_cast<const float *>(queries), o, i,
                                       static_cast<int>(k), radius2, flags, out_begin, out_end,
                                       ix, d, c, fe);
      }
    }
  });
  return gm_ok();
}
