/* Where a point index and an ordering pass keep their arrays, for both builds. */
#ifndef GPUMEM_POINT_LAYOUT_H
#define GPUMEM_POINT_LAYOUT_H

#include "../carver.h"
#include "point_index.h"

/* The index allocation: the sorted points, then the tree's boxes (2 * leaf_base of them). */
struct GmPointIndexLayout {
  GmPoint4 *points;
  GmPointBox *nodes;
  uint64_t leaf_base;
  uint64_t total;

  GmPointIndexLayout(uint64_t base, uint64_t n) {
    GmCarver carve(base);
    leaf_base = gm_point_leaf_base(n);
    points = carve.take<GmPoint4>(n);
    nodes = carve.take<GmPointBox>(2 * leaf_base);
    total = carve.used();
  }
};

/* The ordering pass's scratch: Morton codes in and out, input indices in, the sort's own
 * temporary storage (0 bytes on the CPU build). */
struct GmPointOrderScratch {
  uint64_t *keys[2];
  uint32_t *values;
  void *sort_temp;
  uint64_t sort_bytes;
  uint64_t total;

  GmPointOrderScratch(uint64_t base, uint64_t n, uint64_t sort_temp_bytes) {
    GmCarver carve(base);
    keys[0] = carve.take<uint64_t>(n);
    keys[1] = carve.take<uint64_t>(n);
    values = carve.take<uint32_t>(n);
    sort_temp = carve.take<uint8_t>(sort_temp_bytes);
    sort_bytes = sort_temp_bytes;
    total = carve.used();
  }
};

/* The index's view from the words TypeScript hands in (enum gm_point_index_word). */
inline GmPointIndexView gm_point_view(const uint64_t *words) {
  GmPointIndexView v;
  v.frame = reinterpret_cast<const GmPointFrame *>(words[GM_POINT_FRAME]);
  v.points = reinterpret_cast<const GmPoint4 *>(words[GM_POINT_POINTS]);
  v.nodes = reinterpret_cast<const GmPointBox *>(words[GM_POINT_NODES]);
  v.count = static_cast<uint32_t>(words[GM_POINT_COUNT]);
  v.leaf_base = static_cast<uint32_t>(words[GM_POINT_LEAF_BASE]);
  return v;
}

#endif
