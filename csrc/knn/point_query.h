/* One point query, the same on both builds: the k nearest sorted points within a bound (ties by
 * the smaller input index), by a depth-first walk of the implicit tree, nearest child first,
 * pruning every box farther than the current k-th distance. Then, for feature queries, the
 * neighbourhood's covariance and its eigen-decomposition, in double precision. */
#ifndef GPUMEM_POINT_QUERY_H
#define GPUMEM_POINT_QUERY_H

#include "point_index.h"

/* Deepest walk: the tree has at most 2^32 leaves, and the walk pushes one node a level. */
#define GM_POINT_STACK 32

/* A query's running best list: ascending by (squared distance, input index). */
template <int KCAP>
struct GmNeighbours {
  float d2[KCAP];
  uint32_t id[KCAP];  /* input index */
  uint32_t pos[KCAP]; /* position in the sorted points (for features) */
  int found;
  int k;
  float bound;       /* the k-th squared distance once k are found, else the radius bound */
  uint32_t bound_id; /* its index (UINT32_MAX: the bound is a radius, inclusive) */

  GM_HOST_DEVICE void start(int wanted, float radius2) {
    found = 0;
    k = wanted;
    bound = radius2;
    bound_id = 0xFFFFFFFFu;
  }
  /* Whether (d2, id) precedes the bound: nearer, or as near with a smaller index. */
  GM_HOST_DEVICE bool admits(float d, uint32_t i) const {
    return d < bound || (d == bound && i < bound_id);
  }
  GM_HOST_DEVICE void insert(float d, uint32_t i, uint32_t p) {
    int j = found < k ? found++ : k - 1;
    while (j > 0 && (d < d2[j - 1] || (d == d2[j - 1] && i < id[j - 1]))) {
      d2[j] = d2[j - 1], id[j] = id[j - 1], pos[j] = pos[j - 1];
      j--;
    }
    d2[j] = d, id[j] = i, pos[j] = p;
    if (found == k) bound = d2[k - 1], bound_id = id[k - 1];
  }
};

GM_HOST_DEVICE inline float gm_box_distance2(const GmPointBox &b, const float *q) {
  float d[3];
  for (int k = 0; k < 3; k++) {
    float below = b.lo[k] - q[k], above = q[k] - b.hi[k];
    d[k] = below > above ? below : above;
    d[k] = d[k] > 0 ? d[k] : 0;
  }
  /* Rounded as a point's distance is, so no point scores nearer than its box. */
  return gm_sum_squares(d[0], d[1], d[2]);
}

/* Scans leaf `leaf` into best (skipping sorted position `own`). */
template <int KCAP>
GM_HOST_DEVICE inline void gm_scan_leaf(const GmPointIndexView &index, const float *q, uint32_t own,
                                        uint32_t leaf, GmNeighbours<KCAP> &best) {
  uint64_t begin = index.starts[leaf], end = index.starts[leaf + 1];
  for (uint64_t i = begin; i < end; i++) {
    GmPoint4 p = index.points[i];
    float d2 = gm_sum_squares(p.x - q[0], p.y - q[1], p.z - q[2]);
    if (best.admits(d2, p.id) && static_cast<uint32_t>(i) != own) {
      best.insert(d2, p.id, static_cast<uint32_t>(i));
    }
  }
}

/* The last of `count` ascending keys at or below `key` (0 when none is). */
template <typename K>
GM_HOST_DEVICE inline uint32_t gm_last_at_or_below(const K *keys, uint32_t count, K key) {
  uint32_t lo = 0, hi = count - 1;
  while (lo < hi) {
    uint32_t mid = (lo + hi + 1) / 2;
    if (keys[mid] <= key) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/* The first sorted position of the leaf where Morton code `code` falls along the curve. */
GM_HOST_DEVICE inline uint32_t gm_curve_position(const GmPointIndexView &index, uint64_t code) {
  return index.starts[gm_last_at_or_below(index.leaf_codes, index.leaves, code)];
}

/* The leaf holding sorted position i. */
GM_HOST_DEVICE inline uint32_t gm_leaf_of(const GmPointIndexView &index, uint32_t i) {
  return gm_last_at_or_below(index.starts, index.leaves, i);
}

/* The walk. `own`: the query's own sorted position when it is skipped (self queries without
 * themselves), else UINT32_MAX. `near`: for self queries, the sorted position the query sits at
 * (else UINT32_MAX): the walk then starts from the leaves around it, already near along the
 * curve, so that its bound is tight before it descends. (Without that, the many boxes at distance
 * 0 from a query send the walk down the wrong subtrees first: 34 leaves a query on a LiDAR tile
 * where about 4 reach the final radius.) */
template <int KCAP>
GM_HOST_DEVICE inline void gm_point_search(const GmPointIndexView &index, const float *q,
                                           uint32_t own, uint32_t near, GmNeighbours<KCAP> &best) {
  if (index.count == 0) return;
  uint32_t seeded_lo = 1, seeded_hi = 0; /* leaves already scanned: none */
  if (near != 0xFFFFFFFFu && index.leaves > 0) {
    uint32_t leaf = gm_leaf_of(index, near);
    seeded_lo = leaf > 0 ? leaf - 1 : 0;
    seeded_hi = leaf + 1 < index.leaves ? leaf + 1 : leaf;
    for (uint32_t l = seeded_lo; l <= seeded_hi; l++) gm_scan_leaf(index, q, own, l, best);
  }
  uint32_t stack_node[GM_POINT_STACK];
  float stack_d2[GM_POINT_STACK];
  int top = 0;
  uint32_t node = 1;
  for (;;) {
    if (node >= index.leaf_base) {
      uint32_t leaf = node - index.leaf_base;
      if (leaf < index.leaves && (leaf < seeded_lo || leaf > seeded_hi)) {
        gm_scan_leaf(index, q, own, leaf, best);
      }
    } else {
      uint32_t a = 2 * node, b = a + 1;
      float da = gm_box_distance2(index.nodes[a], q), db = gm_box_distance2(index.nodes[b], q);
      if (db < da) {
        uint32_t t = a;
        a = b, b = t;
        float s = da;
        da = db, db = s;
      }
      /* A box as far as the bound may still hold a tie with a smaller index: prune only
       * farther ones. */
      bool take_a = !(da > best.bound), take_b = !(db > best.bound);
      if (take_b) stack_node[top] = b, stack_d2[top] = db, top++;
      if (take_a) {
        node = a;
        continue;
      }
    }
    for (;;) {
      if (top == 0) return;
      top--;
      if (!(stack_d2[top] > best.bound)) break;
    }
    node = stack_node[top];
  }
}

/* Eigen-decomposition of a symmetric 3x3 matrix (a00 a11 a22 a01 a02 a12): eigenvalues
 * descending, and the unit eigenvector of the smallest (the surface normal). */
struct GmEigen3 {
  double lambda[3];
  double normal[3];
};

GM_HOST_DEVICE inline bool gm_unit_cross(const double *r, const double *s, double *out,
                                         double *best) {
  double c[3] = {r[1] * s[2] - r[2] * s[1], r[2] * s[0] - r[0] * s[2], r[0] * s[1] - r[1] * s[0]};
  double n2 = c[0] * c[0] + c[1] * c[1] + c[2] * c[2];
  if (n2 <= *best) return false;
  *best = n2;
  double inv = 1.0 / sqrt(n2);
  for (int k = 0; k < 3; k++) out[k] = c[k] * inv;
  return true;
}

/* The unit eigenvector of eigenvalue l: the largest cross product of two rows of A - l I. */
GM_HOST_DEVICE inline double gm_eigenvector(const double *a, double l, double *v) {
  double r0[3] = {a[0] - l, a[3], a[4]}, r1[3] = {a[3], a[1] - l, a[5]},
         r2[3] = {a[4], a[5], a[2] - l};
  double best = 0;
  gm_unit_cross(r0, r1, v, &best);
  gm_unit_cross(r0, r2, v, &best);
  gm_unit_cross(r1, r2, v, &best);
  return best;
}

GM_HOST_DEVICE inline GmEigen3 gm_eigen3(const double *a) {
  GmEigen3 e;
  double p1 = a[3] * a[3] + a[4] * a[4] + a[5] * a[5];
  double q = (a[0] + a[1] + a[2]) / 3;
  double p2 = (a[0] - q) * (a[0] - q) + (a[1] - q) * (a[1] - q) + (a[2] - q) * (a[2] - q) + 2 * p1;
  double p = sqrt(p2 / 6);
  if (!(p > 0)) {
    e.lambda[0] = e.lambda[1] = e.lambda[2] = q;
  } else {
    double b[6] = {(a[0] - q) / p, (a[1] - q) / p, (a[2] - q) / p, a[3] / p, a[4] / p, a[5] / p};
    double det = b[0] * (b[1] * b[2] - b[5] * b[5]) - b[3] * (b[3] * b[2] - b[5] * b[4]) +
                 b[4] * (b[3] * b[5] - b[1] * b[4]);
    double r = det / 2;
    r = r < -1 ? -1 : (r > 1 ? 1 : r);
    double phi = acos(r) / 3;
    const double third = 2.0943951023931954923; /* 2 pi / 3 */
    e.lambda[0] = q + 2 * p * cos(phi);
    e.lambda[2] = q + 2 * p * cos(phi + third);
    e.lambda[1] = 3 * q - e.lambda[0] - e.lambda[2];
  }
  /* The smallest eigenvalue's vector when it is distinct; for a line (the two smallest equal),
   * any unit vector across the line's direction; for an isotropic or single-point
   * neighbourhood, +z. */
  double scale = e.lambda[0] > 0 ? e.lambda[0] : 0;
  double gap = 1e-9 * scale;
  e.normal[0] = 0, e.normal[1] = 0, e.normal[2] = 1;
  bool distinct = e.lambda[1] - e.lambda[2] > gap && gm_eigenvector(a, e.lambda[2], e.normal) > 0;
  if (!distinct && e.lambda[0] - e.lambda[1] > gap) {
    double line[3] = {0, 0, 0};
    if (gm_eigenvector(a, e.lambda[0], line) > 0) {
      /* Across the line: cross it with the axis it is least along. */
      int axis = 0;
      for (int k = 1; k < 3; k++) axis = fabs(line[k]) < fabs(line[axis]) ? k : axis;
      double unit[3] = {0, 0, 0};
      unit[axis] = 1;
      double best = 0;
      gm_unit_cross(line, unit, e.normal, &best);
    }
  }
  if (e.normal[2] < 0) {
    for (int k = 0; k < 3; k++) e.normal[k] = -e.normal[k];
  }
  return e;
}

/* Features of the neighbourhood `best` (sorted positions) around q, for query o of stride. */
template <int KCAP>
GM_HOST_DEVICE inline void gm_point_features(const GmPointIndexView &index, const float *q,
                                             const GmNeighbours<KCAP> &best, float *features,
                                             uint64_t stride, uint64_t o) {
  int m = best.found;
  double mean[3] = {0, 0, 0};
  for (int j = 0; j < m; j++) {
    GmPoint4 p = index.points[best.pos[j]];
    mean[0] += p.x - q[0], mean[1] += p.y - q[1], mean[2] += p.z - q[2];
  }
  for (int k = 0; k < 3; k++) mean[k] = m > 0 ? mean[k] / m : 0;
  double c[6] = {0, 0, 0, 0, 0, 0};
  for (int j = 0; j < m; j++) {
    GmPoint4 p = index.points[best.pos[j]];
    double d[3] = {p.x - q[0] - mean[0], p.y - q[1] - mean[1], p.z - q[2] - mean[2]};
    c[0] += d[0] * d[0], c[1] += d[1] * d[1], c[2] += d[2] * d[2];
    c[3] += d[0] * d[1], c[4] += d[0] * d[2], c[5] += d[1] * d[2];
  }
  for (int k = 0; k < 6; k++) c[k] = m > 0 ? c[k] / m : 0;
  GmEigen3 e = gm_eigen3(c);
  double l1 = e.lambda[0] > 0 ? e.lambda[0] : 0, l2 = e.lambda[1] > 0 ? e.lambda[1] : 0,
         l3 = e.lambda[2] > 0 ? e.lambda[2] : 0;
  double sum = l1 + l2 + l3;
  for (int k = 0; k < 3; k++) {
    features[3 * o + k] = static_cast<float>(e.normal[k]);
    features[3 * stride + 3 * o + k] = static_cast<float>(k == 0 ? l1 : (k == 1 ? l2 : l3));
  }
  float *scalars = features + 6 * stride;
  /* A neighbourhood of one repeated point has no shape: its ratios are 0. */
  scalars[GM_FEATURE_LINEARITY * stride + o] = l1 > 0 ? static_cast<float>((l1 - l2) / l1) : 0.0f;
  scalars[GM_FEATURE_PLANARITY * stride + o] = l1 > 0 ? static_cast<float>((l2 - l3) / l1) : 0.0f;
  scalars[GM_FEATURE_SPHERICITY * stride + o] = l1 > 0 ? static_cast<float>(l3 / l1) : 0.0f;
  scalars[GM_FEATURE_VERTICALITY * stride + o] = static_cast<float>(1 - fabs(e.normal[2]));
  scalars[GM_FEATURE_CURVATURE * stride + o] = sum > 0 ? static_cast<float>(l3 / sum) : 0.0f;
}

/* One query's outputs: k indices and distances (padded with -1 and Infinity), its count, and
 * its features; any output may be null. */
template <int KCAP>
GM_HOST_DEVICE inline void gm_point_write(const GmPointIndexView &index, const float *q,
                                          const GmNeighbours<KCAP> &best, uint64_t o,
                                          int32_t *indices, float *distances, int32_t *counts,
                                          float *features, uint64_t stride) {
  uint64_t row = o * static_cast<uint64_t>(best.k);
  for (int j = 0; j < best.k; j++) {
    bool hit = j < best.found;
    if (indices) indices[row + j] = hit ? static_cast<int32_t>(best.id[j]) : -1;
    if (distances) distances[row + j] = hit ? sqrtf(best.d2[j]) : INFINITY;
  }
  if (counts) counts[o] = best.found;
  if (features) gm_point_features(index, q, best, features, stride, o);
}

/* Query i of a launch. Self queries (queries null) take sorted point i and answer it when its
 * input index lies in [out_begin, out_end), at that index less out_begin; other queries take
 * input query order[i], answered at its own index. */
template <int KCAP, typename V>
GM_HOST_DEVICE inline void gm_point_query(const GmPointIndexView &index, const V *queries,
                                          const uint32_t *order, uint64_t i, int k, float radius2,
                                          int flags, uint64_t out_begin, uint64_t out_end,
                                          int32_t *indices, float *distances, int32_t *counts,
                                          float *features) {
  float q[3];
  uint32_t own = 0xFFFFFFFFu, near = 0xFFFFFFFFu;
  uint64_t o;
  if (queries == nullptr) {
    GmPoint4 p = index.points[i];
    if (p.id < out_begin || p.id >= out_end) return;
    q[0] = p.x, q[1] = p.y, q[2] = p.z;
    if (flags & GM_POINT_EXCLUDE_SELF) own = static_cast<uint32_t>(i);
    near = static_cast<uint32_t>(i);
    o = p.id - out_begin;
  } else {
    o = order[i];
    GmPointGrid grid = gm_point_grid(*index.frame);
    gm_point_local(grid, queries, o, q);
    if (index.leaves > 0) {
      near = gm_curve_position(index, gm_point_morton(grid, queries[3 * o], queries[3 * o + 1],
                                                      queries[3 * o + 2]));
    }
  }
  GmNeighbours<KCAP> best;
  best.start(k, radius2);
  gm_point_search(index, q, own, near, best);
  gm_point_write(index, q, best, o, indices, distances, counts, features, out_end - out_begin);
}

#endif
