/* The point index both builds make for 3-D nearest-neighbour queries: points sorted along a
 * 63-bit Morton curve, stored as float offsets from the cloud's centre (so that Lambert-93-sized
 * coordinates keep their millimetres), cut into leaves, with an implicit complete binary tree of
 * boxes over the leaves (node 1 the root, node i's children 2i and 2i + 1, leaf b at
 * leaf_base + b), walked nearest child first.
 *
 * A leaf is a maximal aligned Morton cell of at most GM_POINT_LEAF points. Fixed runs of
 * consecutive points would straddle the curve's jumps (a run that ends in one quadrant and starts
 * in the next spans both); on a LiDAR tile such boxes made a query scan 34 leaves, aligned cells
 * about 6. The tree over them needs no build beyond its boxes and adapts to density. */
#ifndef GPUMEM_POINT_INDEX_H
#define GPUMEM_POINT_INDEX_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../axpy.h"

/* Most points a leaf. */
#define GM_POINT_LEAF 32
/* The largest k (or maxNeighbours) of a point query. */
#define GM_POINT_MAX_K 256
/* Bits of the Morton code per axis. */
#define GM_POINT_MORTON_BITS 21

/* A sorted point: its offset from the frame's centre and its index in the input. */
struct alignas(16) GmPoint4 {
  float x, y, z;
  uint32_t id;
};

/* A tree node's box (an empty box has lo > hi, so every distance to it is infinite). */
struct GmPointBox {
  float lo[3], hi[3];
};

/* The cloud's frame: bounds of the input in double precision (ordered-integer encoded, so that
 * the CUDA build can reduce them with atomics) and the count of non-finite coordinates. */
struct GmPointFrame {
  uint64_t lo[3], hi[3];
  uint64_t nonfinite;
  uint64_t reserved;
};

/* What a query needs of an index: device (host, on the CPU build) addresses and sizes. */
struct GmPointIndexView {
  const GmPointFrame *frame;
  const GmPoint4 *points;
  const uint32_t *starts;     /* leaf b holds points [starts[b], starts[b + 1]) */
  const uint64_t *leaf_codes; /* the Morton code of each leaf's first point */
  const GmPointBox *nodes;
  uint32_t count;
  uint32_t leaves;
  uint32_t leaf_base;
};

/* Words of an index handle as TypeScript passes it (a host array of uint64_t). */
enum gm_point_index_word {
  GM_POINT_FRAME = 0,
  GM_POINT_POINTS = 1,
  GM_POINT_NODES = 2,
  GM_POINT_COUNT = 3,
  GM_POINT_LEAF_BASE = 4,
  GM_POINT_STARTS = 5,
  GM_POINT_LEAVES = 6,
  GM_POINT_LEAF_CODES = 7,
  GM_POINT_WORDS = 8,
};

/* Query flags. */
enum gm_point_query_flag {
  GM_POINT_EXCLUDE_SELF = 1, /* a self query skips the query point itself */
};

/* Features written per query into one float array of GM_FEATURE_FLOATS x stride (stride: the
 * queries of the launch): the unit normal (xyz per query), the eigenvalues (three per query,
 * descending), then one array each of the scalars, in this order. */
enum gm_point_feature {
  GM_FEATURE_LINEARITY = 0,
  GM_FEATURE_PLANARITY = 1,
  GM_FEATURE_SPHERICITY = 2,
  GM_FEATURE_VERTICALITY = 3,
  GM_FEATURE_CURVATURE = 4,
  GM_FEATURE_SCALARS = 5,
};
#define GM_FEATURE_FLOATS (6 + GM_FEATURE_SCALARS)

/* The leaf level of the tree over `leaves` leaves (a power of two). */
GM_HOST_DEVICE inline uint64_t gm_point_leaf_base(uint64_t leaves) {
  uint64_t base = 1;
  while (base < leaves) base *= 2;
  return base;
}

/* The sum of squares, rounded after each step: both builds must round alike (a fused
 * multiply-add here on one of them would reorder near ties between the two). */
GM_HOST_DEVICE inline float gm_sum_squares(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(__fadd_rn(__fmul_rn(a, a), __fmul_rn(b, b)), __fmul_rn(c, c));
#else
  return a * a + b * b + c * c; /* ISO C++ mode: no contraction */
#endif
}

/* Whether sorted point i starts a leaf: when the smallest aligned cell holding points i - 1 and
 * i holds more than GM_POINT_LEAF points (counted up to that many on each side). Points with one
 * code share the finest cell: a run of them longer than a leaf is cut every GM_POINT_LEAF. */
GM_HOST_DEVICE inline uint32_t gm_leaf_starts_at(const uint64_t *codes, uint64_t n, uint64_t i) {
  if (i == 0) return 1;
  uint64_t differ = codes[i - 1] ^ codes[i];
  int shift = 0;
  while (shift < 64 && (differ >> shift) != 0) shift++;
  const uint64_t prefix = shift == 64 ? 0 : codes[i] >> shift;
  auto same = [&](uint64_t j) { return shift == 64 || (codes[j] >> shift) == prefix; };
  uint64_t count = 0;
  for (uint64_t j = i; j > 0 && count <= GM_POINT_LEAF && same(j - 1); j--) count++;
  for (uint64_t j = i; j < n && count <= GM_POINT_LEAF && same(j); j++) count++;
  if (count <= GM_POINT_LEAF) return 0;
  return differ != 0 || i % GM_POINT_LEAF == 0 ? 1 : 0;
}

/* Ordered-integer encoding of doubles: unsigned order equals numeric order. */
GM_HOST_DEVICE inline uint64_t gm_order_double(double d) {
  uint64_t bits;
  memcpy(&bits, &d, 8);
  return (bits & 0x8000000000000000ull) ? ~bits : (bits | 0x8000000000000000ull);
}
GM_HOST_DEVICE inline double gm_unorder_double(uint64_t u) {
  uint64_t bits = (u & 0x8000000000000000ull) ? (u & 0x7FFFFFFFFFFFFFFFull) : ~u;
  double d;
  memcpy(&d, &bits, 8);
  return d;
}

/* The frame's centre (the middle of its bounds) and the scale onto the Morton grid: one cube
 * over the largest extent, so that distances keep their proportions along the curve. */
struct GmPointGrid {
  double lo[3], centre[3], scale;
};

GM_HOST_DEVICE inline GmPointGrid gm_point_grid(const GmPointFrame &frame) {
  GmPointGrid g;
  double extent = 0;
  for (int k = 0; k < 3; k++) {
    double lo = gm_unorder_double(frame.lo[k]), hi = gm_unorder_double(frame.hi[k]);
    if (!(lo <= hi)) lo = hi = 0; /* no points */
    g.lo[k] = lo;
    g.centre[k] = 0.5 * (lo + hi);
    extent = hi - lo > extent ? hi - lo : extent;
  }
  g.scale = extent > 0 ? ((1 << GM_POINT_MORTON_BITS) - 1) / extent : 0;
  return g;
}

/* 21 bits of v spread to every third bit of a 63-bit word. */
GM_HOST_DEVICE inline uint64_t gm_spread_bits21(uint64_t v) {
  v &= 0x1FFFFF;
  v = (v | v << 32) & 0x1F00000000FFFFull;
  v = (v | v << 16) & 0x1F0000FF0000FFull;
  v = (v | v << 8) & 0x100F00F00F00F00Full;
  v = (v | v << 4) & 0x10C30C30C30C30C3ull;
  v = (v | v << 2) & 0x1249249249249249ull;
  return v;
}

GM_HOST_DEVICE inline uint64_t gm_point_morton(const GmPointGrid &g, double x, double y, double z) {
  const double top = (1 << GM_POINT_MORTON_BITS) - 1;
  double c[3] = {(x - g.lo[0]) * g.scale, (y - g.lo[1]) * g.scale, (z - g.lo[2]) * g.scale};
  uint64_t code = 0;
  for (int k = 0; k < 3; k++) {
    double v = c[k] > 0 ? (c[k] < top ? c[k] : top) : 0; /* NaN lands on 0 */
    code |= gm_spread_bits21(static_cast<uint64_t>(v)) << (2 - k);
  }
  return code;
}

/* A coordinate triple as a float offset from the centre; false when it is not finite there. */
template <typename V>
GM_HOST_DEVICE inline bool gm_point_local(const GmPointGrid &g, const V *points, uint64_t i,
                                          float *out) {
  bool finite = true;
  for (int k = 0; k < 3; k++) {
    out[k] = static_cast<float>(static_cast<double>(points[3 * i + k]) - g.centre[k]);
    finite = finite && isfinite(out[k]);
  }
  return finite;
}

/* Float offsets from the frame's centre, as gm_points_offsets writes them: the build's input for
 * a cloud uploaded in chunks (its float64 coordinates never on the device at once). Their
 * coordinates are centre + offset (for Morton codes); their local offsets are themselves, so the
 * index holds the same points as one built from the coordinates. */
struct GmCentred {
  const float *p;
};

/* Coordinate k of point i, as a double. */
template <typename V>
GM_HOST_DEVICE inline double gm_point_coord(const GmPointGrid &, const V *points, uint64_t i,
                                            int k) {
  return static_cast<double>(points[3 * i + k]);
}
GM_HOST_DEVICE inline double gm_point_coord(const GmPointGrid &g, GmCentred c, uint64_t i, int k) {
  return g.centre[k] + static_cast<double>(c.p[3 * i + k]);
}

/* Centred offsets are their own local offsets (false when one is not finite). */
GM_HOST_DEVICE inline bool gm_point_local(const GmPointGrid &, GmCentred c, uint64_t i,
                                          float *out) {
  bool finite = true;
  for (int k = 0; k < 3; k++) {
    out[k] = c.p[3 * i + k];
    finite = finite && isfinite(out[k]);
  }
  return finite;
}

/* The Morton code of point i in the grid. */
template <typename P>
GM_HOST_DEVICE inline uint64_t gm_point_code(const GmPointGrid &g, P points, uint64_t i) {
  return gm_point_morton(g, gm_point_coord(g, points, i, 0), gm_point_coord(g, points, i, 1),
                         gm_point_coord(g, points, i, 2));
}

/* The build's input kinds: the `f64` argument of gm_points_order and gm_points_index. */
enum gm_point_input { GM_POINTS_F32 = 0, GM_POINTS_F64 = 1, GM_POINTS_CENTRED = 2 };

/* Step: the box of leaf b over the sorted points (empty past the last leaf). */
GM_HOST_DEVICE inline GmPointBox gm_leaf_box(const GmPoint4 *points, const uint32_t *starts,
                                             uint64_t leaves, uint64_t b) {
  GmPointBox box = {{INFINITY, INFINITY, INFINITY}, {-INFINITY, -INFINITY, -INFINITY}};
  uint64_t begin = b < leaves ? starts[b] : 0, end = b < leaves ? starts[b + 1] : 0;
  for (uint64_t i = begin; i < end; i++) {
    const float p[3] = {points[i].x, points[i].y, points[i].z};
    for (int k = 0; k < 3; k++) {
      box.lo[k] = p[k] < box.lo[k] ? p[k] : box.lo[k];
      box.hi[k] = p[k] > box.hi[k] ? p[k] : box.hi[k];
    }
  }
  return box;
}

GM_HOST_DEVICE inline GmPointBox gm_box_union(const GmPointBox &a, const GmPointBox &b) {
  GmPointBox u;
  for (int k = 0; k < 3; k++) {
    u.lo[k] = a.lo[k] < b.lo[k] ? a.lo[k] : b.lo[k];
    u.hi[k] = a.hi[k] > b.hi[k] ? a.hi[k] : b.hi[k];
  }
  return u;
}

#endif
