/* Geometry both builds compute identically: points against triangles and boxes, rays against
 * triangles and boxes, solid angles, Morton codes. Templated on the scalar so that queries far
 * from the mesh can run in double precision (see bvh_query.h). */
#ifndef GPUMEM_BVH_GEOMETRY_H
#define GPUMEM_BVH_GEOMETRY_H

#include <math.h>
#include <stdint.h>

#include "bvh_layout.h"

template <typename T>
struct GmVec3 {
  T x, y, z;
};

template <typename T>
GM_HOST_DEVICE inline GmVec3<T> gm_vec(T x, T y, T z) {
  return GmVec3<T>{x, y, z};
}
template <typename T>
GM_HOST_DEVICE inline GmVec3<T> gm_load3(const float *v) {
  return GmVec3<T>{static_cast<T>(v[0]), static_cast<T>(v[1]), static_cast<T>(v[2])};
}
template <typename T>
GM_HOST_DEVICE inline GmVec3<T> operator-(GmVec3<T> a, GmVec3<T> b) {
  return GmVec3<T>{a.x - b.x, a.y - b.y, a.z - b.z};
}
template <typename T>
GM_HOST_DEVICE inline GmVec3<T> operator+(GmVec3<T> a, GmVec3<T> b) {
  return GmVec3<T>{a.x + b.x, a.y + b.y, a.z + b.z};
}
template <typename T>
GM_HOST_DEVICE inline GmVec3<T> operator*(GmVec3<T> a, T s) {
  return GmVec3<T>{a.x * s, a.y * s, a.z * s};
}
template <typename T>
GM_HOST_DEVICE inline T gm_dot(GmVec3<T> a, GmVec3<T> b) {
  return a.x * b.x + a.y * b.y + a.z * b.z;
}
template <typename T>
GM_HOST_DEVICE inline GmVec3<T> gm_cross(GmVec3<T> a, GmVec3<T> b) {
  return GmVec3<T>{a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
template <typename T>
GM_HOST_DEVICE inline T gm_norm(GmVec3<T> a) {
  return sqrt(gm_dot(a, a));
}
template <typename T>
GM_HOST_DEVICE inline T gm_min(T a, T b) {
  return a < b ? a : b;
}
template <typename T>
GM_HOST_DEVICE inline T gm_max(T a, T b) {
  return a > b ? a : b;
}

template <typename T>
GM_HOST_DEVICE inline T gm_epsilon();
template <>
GM_HOST_DEVICE inline float gm_epsilon<float>() {
  return 1.1920929e-7f;
}
template <>
GM_HOST_DEVICE inline double gm_epsilon<double>() {
  return 2.220446049250313e-16;
}

/* Which feature of a triangle holds the closest point: the pseudo-normal to sign it with. */
enum gm_feature {
  GM_FEATURE_FACE = 0,
  GM_FEATURE_EDGE_AB = 1,
  GM_FEATURE_EDGE_BC = 2,
  GM_FEATURE_EDGE_CA = 3,
  GM_FEATURE_VERTEX_A = 4,
  GM_FEATURE_VERTEX_B = 5,
  GM_FEATURE_VERTEX_C = 6,
};

template <typename T>
struct GmClosest {
  T distance2;
  T u, v, w; /* barycentric weights of a, b, c */
  int feature;
};

/* The closest point of segment pq to `x`, as the weight t of q. */
template <typename T>
GM_HOST_DEVICE inline T gm_segment_t(GmVec3<T> x, GmVec3<T> p, GmVec3<T> q) {
  GmVec3<T> d = q - p;
  T dd = gm_dot(d, d);
  if (!(dd > T(0))) return T(0);
  T t = gm_dot(x - p, d) / dd;
  return gm_min(T(1), gm_max(T(0), t));
}

/* For slivers and zero-area triangles, where the region tests below cancel catastrophically:
 * the projection onto the plane when it falls inside (barycentrics from sub-triangle areas),
 * else the nearest of the three edges. */
template <typename T>
GM_HOST_DEVICE inline void gm_closest_on_sliver(GmVec3<T> x, GmVec3<T> a, GmVec3<T> b,
                                                GmVec3<T> c, GmVec3<T> n, GmClosest<T> &r) {
  T nn = gm_dot(n, n);
  if (nn > T(0)) {
    GmVec3<T> q = x - n * (gm_dot(x - a, n) / nn);
    T u = gm_dot(gm_cross(c - b, q - b), n) / nn, v = gm_dot(gm_cross(a - c, q - c), n) / nn;
    T w = T(1) - u - v;
    if (u >= T(0) && v >= T(0) && w >= T(0)) {
      r.u = u, r.v = v, r.w = w, r.feature = GM_FEATURE_FACE;
      return;
    }
  }
  T tab = gm_segment_t(x, a, b), tbc = gm_segment_t(x, b, c), tca = gm_segment_t(x, c, a);
  GmVec3<T> pab = a + (b - a) * tab, pbc = b + (c - b) * tbc, pca = c + (a - c) * tca;
  T eab = gm_dot(x - pab, x - pab), ebc = gm_dot(x - pbc, x - pbc), eca = gm_dot(x - pca, x - pca);
  if (eab <= ebc && eab <= eca) {
    r.u = T(1) - tab, r.v = tab, r.w = T(0), r.feature = GM_FEATURE_EDGE_AB;
  } else if (ebc <= eca) {
    r.u = T(0), r.v = T(1) - tbc, r.w = tbc, r.feature = GM_FEATURE_EDGE_BC;
  } else {
    r.u = tca, r.v = T(0), r.w = T(1) - tca, r.feature = GM_FEATURE_EDGE_CA;
  }
  /* An end of an edge is a vertex feature (its pseudo-normal signs it). */
  if (r.u == T(1)) r.feature = GM_FEATURE_VERTEX_A;
  if (r.v == T(1)) r.feature = GM_FEATURE_VERTEX_B;
  if (r.w == T(1)) r.feature = GM_FEATURE_VERTEX_C;
}

/* The closest point of triangle abc to x by Voronoi regions (Ericson, Real-Time Collision
 * Detection 5.1.5); triangles with an angle under ~6 degrees take gm_closest_on_sliver. */
template <typename T>
GM_HOST_DEVICE inline GmClosest<T> gm_closest_on_triangle(GmVec3<T> x, GmVec3<T> a, GmVec3<T> b,
                                                         GmVec3<T> c) {
  GmVec3<T> ab = b - a, ac = c - a, ax = x - a;
  GmVec3<T> n = gm_cross(ab, ac);
  GmClosest<T> r;
  if (!(gm_dot(n, n) > T(1e-2) * gm_dot(ab, ab) * gm_dot(ac, ac))) {
    gm_closest_on_sliver(x, a, b, c, n, r);
  } else {
    T d1 = gm_dot(ab, ax), d2 = gm_dot(ac, ax);
    GmVec3<T> bx = x - b, cx = x - c;
    T d3 = gm_dot(ab, bx), d4 = gm_dot(ac, bx);
    T d5 = gm_dot(ab, cx), d6 = gm_dot(ac, cx);
    T vc = d1 * d4 - d3 * d2, vb = d5 * d2 - d1 * d6, va = d3 * d6 - d5 * d4;
    if (d1 <= T(0) && d2 <= T(0)) {
      r.u = T(1), r.v = T(0), r.w = T(0), r.feature = GM_FEATURE_VERTEX_A;
    } else if (d3 >= T(0) && d4 <= d3) {
      r.u = T(0), r.v = T(1), r.w = T(0), r.feature = GM_FEATURE_VERTEX_B;
    } else if (d6 >= T(0) && d5 <= d6) {
      r.u = T(0), r.v = T(0), r.w = T(1), r.feature = GM_FEATURE_VERTEX_C;
    } else if (vc <= T(0) && d1 >= T(0) && d3 <= T(0)) {
      T t = d1 / (d1 - d3);
      r.u = T(1) - t, r.v = t, r.w = T(0), r.feature = GM_FEATURE_EDGE_AB;
    } else if (vb <= T(0) && d2 >= T(0) && d6 <= T(0)) {
      T t = d2 / (d2 - d6);
      r.u = T(1) - t, r.v = T(0), r.w = t, r.feature = GM_FEATURE_EDGE_CA;
    } else if (va <= T(0) && (d4 - d3) >= T(0) && (d5 - d6) >= T(0)) {
      T t = (d4 - d3) / ((d4 - d3) + (d5 - d6));
      r.u = T(0), r.v = T(1) - t, r.w = t, r.feature = GM_FEATURE_EDGE_BC;
    } else {
      T inv = T(1) / (va + vb + vc);
      r.v = vb * inv, r.w = vc * inv, r.u = T(1) - r.v - r.w, r.feature = GM_FEATURE_FACE;
    }
  }
  GmVec3<T> q = a * r.u + b * r.v + c * r.w;
  GmVec3<T> d = x - q;
  r.distance2 = gm_dot(d, d);
  return r;
}

/* Squared distance from x to the box [lo, hi] (0 inside). */
template <typename T>
GM_HOST_DEVICE inline T gm_box_distance2(GmVec3<T> x, const float *lo, const float *hi) {
  T dx = gm_max(gm_max(T(lo[0]) - x.x, x.x - T(hi[0])), T(0));
  T dy = gm_max(gm_max(T(lo[1]) - x.y, x.y - T(hi[1])), T(0));
  T dz = gm_max(gm_max(T(lo[2]) - x.z, x.z - T(hi[2])), T(0));
  return dx * dx + dy * dy + dz * dz;
}

/* Slab test: the entry parameter of the ray o + t·d (inv = 1/d) into the box, within [0, t_max];
 * NaN when it misses, so that every comparison with it is false (an infinite t_max included). An
 * empty box (lo > hi) always misses. */
template <typename T>
GM_HOST_DEVICE inline T gm_ray_box(GmVec3<T> o, GmVec3<T> inv, const float *lo, const float *hi,
                                   T t_max) {
  T tx0 = (T(lo[0]) - o.x) * inv.x, tx1 = (T(hi[0]) - o.x) * inv.x;
  T ty0 = (T(lo[1]) - o.y) * inv.y, ty1 = (T(hi[1]) - o.y) * inv.y;
  T tz0 = (T(lo[2]) - o.z) * inv.z, tz1 = (T(hi[2]) - o.z) * inv.z;
  T t0 = gm_max(gm_max(gm_min(tx0, tx1), gm_min(ty0, ty1)), gm_max(gm_min(tz0, tz1), T(0)));
  T t1 = gm_min(gm_min(gm_max(tx0, tx1), gm_max(ty0, ty1)), gm_min(gm_max(tz0, tz1), t_max));
  /* NaN (0 · inf on a slab's plane) compares false: such a box is entered, conservatively. */
  return t0 <= t1 * (T(1) + T(4) * gm_epsilon<T>()) ? t0 : T(NAN);
}

/* Möller–Trumbore, two-sided: a hit at t in [0, t_max] with barycentric weights of a, b, c. The
 * tests run on the undivided values (made positive by det's sign), so that only a hit divides. */
template <typename T>
GM_HOST_DEVICE inline bool gm_ray_triangle(GmVec3<T> o, GmVec3<T> d, GmVec3<T> a, GmVec3<T> b,
                                           GmVec3<T> c, T t_max, T *t, T *u, T *v) {
  GmVec3<T> e1 = b - a, e2 = c - a;
  GmVec3<T> p = gm_cross(d, e2);
  T det = gm_dot(e1, p);
  if (det == T(0) || !(det == det)) return false;
  T sign = det < T(0) ? T(-1) : T(1);
  det *= sign;
  GmVec3<T> s = o - a;
  T bu = gm_dot(s, p) * sign;
  if (bu < T(0) || bu > det) return false;
  GmVec3<T> q = gm_cross(s, e1);
  T bv = gm_dot(d, q) * sign;
  if (bv < T(0) || bu + bv > det) return false;
  T tt = gm_dot(e2, q) * sign;
  if (!(tt >= T(0) && tt <= t_max * det)) return false;
  T inv = T(1) / det;
  *t = gm_min(tt * inv, t_max), *u = bu * inv, *v = bv * inv;
  return true;
}

/* The solid angle of triangle abc seen from x, signed by the triangle's orientation (Van Oosterom
 * & Strackee): positive when x sees the back of a counter-clockwise (outward) face. */
template <typename T>
GM_HOST_DEVICE inline T gm_solid_angle(GmVec3<T> x, GmVec3<T> a, GmVec3<T> b, GmVec3<T> c) {
  GmVec3<T> pa = a - x, pb = b - x, pc = c - x;
  T la = gm_norm(pa), lb = gm_norm(pb), lc = gm_norm(pc);
  T numerator = gm_dot(pa, gm_cross(pb, pc));
  T denominator = la * lb * lc + gm_dot(pa, pb) * lc + gm_dot(pa, pc) * lb + gm_dot(pb, pc) * la;
  return T(2) * atan2(numerator, denominator);
}

/* Scale mapping the centroid bounds [lo, hi] onto Morton's 1024 cells along their widest axis,
 * the same on all three, so that cells are cubes: a flat mesh is then split along its long axes
 * first and its boxes stay near-square. (A scale per axis stretched the terrain's cells 5.6:1;
 * one scale gave it 1.55x the distance and 1.33x the ray rate, bench/RESULTS.md.) */
GM_HOST_DEVICE inline void gm_morton_scale(const float *lo, const float *hi, float *scale) {
  float widest = 0.0f;
  for (int k = 0; k < 3; k++) widest = gm_max(widest, hi[k] - lo[k]);
  for (int k = 0; k < 3; k++) scale[k] = widest > 0.0f ? 1023.0f / widest : 0.0f;
}

/* 10 bits of `v` spread to every third bit. */
GM_HOST_DEVICE inline uint32_t gm_spread_bits(uint32_t v) {
  v = (v * 0x00010001u) & 0xFF0000FFu;
  v = (v * 0x00000101u) & 0x0F00F00Fu;
  v = (v * 0x00000011u) & 0xC30C30C3u;
  v = (v * 0x00000005u) & 0x49249249u;
  return v;
}

/* The 30-bit Morton code of x in the box [lo, lo + 1/scale]. */
GM_HOST_DEVICE inline uint32_t gm_morton(float x, float y, float z, const float *lo,
                                         const float *scale) {
  float fx = gm_min(gm_max((x - lo[0]) * scale[0], 0.0f), 1023.0f);
  float fy = gm_min(gm_max((y - lo[1]) * scale[1], 0.0f), 1023.0f);
  float fz = gm_min(gm_max((z - lo[2]) * scale[2], 0.0f), 1023.0f);
  return (gm_spread_bits(static_cast<uint32_t>(fx)) << 2) |
         (gm_spread_bits(static_cast<uint32_t>(fy)) << 1) |
         gm_spread_bits(static_cast<uint32_t>(fz));
}

#endif
