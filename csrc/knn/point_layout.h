/* Where a point index and an ordering pass keep their arrays, for both builds. */
#ifndef GPUMEM_POINT_LAYOUT_H
#define GPUMEM_POINT_LAYOUT_H

#include "../carver.h"
#include "../status.h"
#include "point_index.h"

/* The index allocation: the sorted points, the leaves' starts (and n after the last), their first
 * Morton codes (where other queries find their place on the curve), then the tree's boxes
 * (2 * leaf_base of them). */
struct GmPointIndexLayout {
  GmPoint4 *points;
  uint32_t *starts;
  uint64_t *leaf_codes;
  GmPointBox *nodes;
  uint64_t leaf_base;
  uint64_t total;

  GmPointIndexLayout(uint64_t base, uint64_t n, uint64_t leaves) {
    GmCarver carve(base);
    leaf_base = gm_point_leaf_base(leaves);
    points = carve.take<GmPoint4>(n);
    starts = carve.take<uint32_t>(leaves + 1);
    leaf_codes = carve.take<uint64_t>(leaves);
    nodes = carve.take<GmPointBox>(2 * leaf_base);
    total = carve.used();
  }
};

/* The ordering pass's scratch: Morton codes in and out (the sorted ones stay for the leaves;
 * the others' space then holds leaf flags and their scan), input indices in, and the sort's and
 * scan's temporary storage (0 bytes on the CPU build). */
struct GmPointOrderScratch {
  uint64_t *keys[2];
  uint32_t *values;
  uint32_t *flags, *leaf_of; /* in keys[0]'s space, once sorted: leaf starts and their scan */
  void *sort_temp;
  uint64_t sort_bytes;
  uint64_t total;

  GmPointOrderScratch(uint64_t base, uint64_t n, uint64_t sort_temp_bytes) {
    GmCarver carve(base);
    keys[0] = carve.take<uint64_t>(n);
    keys[1] = carve.take<uint64_t>(n);
    values = carve.take<uint32_t>(n);
    flags = reinterpret_cast<uint32_t *>(keys[0]);
    leaf_of = flags + n;
    sort_temp = carve.take<uint8_t>(sort_temp_bytes);
    sort_bytes = sort_temp_bytes;
    total = carve.used();
  }
};

/* gm_points_plan's answer for n points in `leaves` leaves, with the build's sort storage. */
inline int gm_fill_point_plan(uint64_t n, uint64_t leaves, uint64_t sort_bytes, uint64_t *plan) {
  if (plan == nullptr || n >= 0xFFFFFFFFull || leaves > n) {
    return gm_fail(GM_INVALID_ARGUMENT,
                   "gm_points_plan: null plan, 2^32 points or more leaves than points");
  }
  GmPointIndexLayout index(0, n, leaves);
  plan[0] = index.total;
  plan[1] = GmPointOrderScratch(0, n, sort_bytes).total;
  plan[2] = index.leaf_base;
  plan[3] = reinterpret_cast<uint64_t>(index.starts);
  plan[4] = reinterpret_cast<uint64_t>(index.nodes);
  plan[5] = reinterpret_cast<uint64_t>(index.leaf_codes);
  return gm_ok();
}

/* The index's view from the words TypeScript hands in (enum gm_point_index_word). */
inline GmPointIndexView gm_point_view(const uint64_t *words) {
  GmPointIndexView v;
  v.frame = reinterpret_cast<const GmPointFrame *>(words[GM_POINT_FRAME]);
  v.points = reinterpret_cast<const GmPoint4 *>(words[GM_POINT_POINTS]);
  v.starts = reinterpret_cast<const uint32_t *>(words[GM_POINT_STARTS]);
  v.leaf_codes = reinterpret_cast<const uint64_t *>(words[GM_POINT_LEAF_CODES]);
  v.nodes = reinterpret_cast<const GmPointBox *>(words[GM_POINT_NODES]);
  v.count = static_cast<uint32_t>(words[GM_POINT_COUNT]);
  v.leaves = static_cast<uint32_t>(words[GM_POINT_LEAVES]);
  v.leaf_base = static_cast<uint32_t>(words[GM_POINT_LEAF_BASE]);
  return v;
}

#endif
