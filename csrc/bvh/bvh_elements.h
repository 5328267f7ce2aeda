/* One query's whole job, input to output, shared by both builds: read the point or ray in world
 * coordinates, move it into the BVH's frame in double precision, traverse (float near the mesh,
 * double far from it), and write the answer back in world coordinates. */
#ifndef GPUMEM_BVH_ELEMENTS_H
#define GPUMEM_BVH_ELEMENTS_H

#include "bvh_query.h"

/* The BVH as the queries see it (device addresses). */
struct GmBvhView {
  const GmBvhNode *nodes;
  const GmBvhDistanceNode *distance_nodes; /* in the same memory, after the nodes */
  const GmBvhTriangle *tris;
  const GmBvhWinding *winding;
  const GmBvhPseudoNormals *normals;
  uint32_t node_count, triangle_count;
};

/* The BVH's frame: its origin in world coordinates, and its bounds relative to the origin. */
struct GmFrame {
  double origin[3];
  float lo[3], hi[3];
  /* Points farther than this from the bounds are traversed in double precision. */
  double far;
};

/* A query more than four mesh extents away: float32 there could not tell its nearest triangles
 * apart (their distances differ in digits float32 does not hold). */
GM_HOST_DEVICE inline void gm_frame_init(GmFrame &frame, const double *words) {
  float extent = 0.0f;
  for (int k = 0; k < 3; k++) {
    frame.origin[k] = words[GM_FRAME_ORIGIN + k];
    frame.lo[k] = static_cast<float>(words[GM_FRAME_LO + k]);
    frame.hi[k] = static_cast<float>(words[GM_FRAME_HI + k]);
    extent = gm_max(extent, frame.hi[k] - frame.lo[k]);
  }
  frame.far = 4.0 * static_cast<double>(extent);
}

template <typename P>
GM_HOST_DEVICE inline GmVec3<double> gm_read_point(const P *points, uint64_t i, const GmFrame &f) {
  return gm_vec(static_cast<double>(points[3 * i]) - f.origin[0],
                static_cast<double>(points[3 * i + 1]) - f.origin[1],
                static_cast<double>(points[3 * i + 2]) - f.origin[2]);
}

template <typename T>
GM_HOST_DEVICE inline GmVec3<T> gm_narrow(GmVec3<double> x) {
  return gm_vec(static_cast<T>(x.x), static_cast<T>(x.y), static_cast<T>(x.z));
}

GM_HOST_DEVICE inline bool gm_finite(GmVec3<double> x) {
  return isfinite(x.x) && isfinite(x.y) && isfinite(x.z);
}

GM_HOST_DEVICE inline bool gm_is_far(GmVec3<double> x, const GmFrame &f) {
  return gm_box_distance2(x, f.lo, f.hi) > f.far * f.far;
}

/* The answer of a query with no triangle in range (`distance`: Infinity) or with a non-finite
 * point (NaN). */
GM_HOST_DEVICE inline void gm_write_miss(uint64_t i, float *distance, int32_t *face, float *point,
                                         float *bary, float value) {
  if (distance) distance[i] = value;
  if (face) face[i] = -1;
  for (int k = 0; k < 3; k++) {
    if (point) point[3 * i + k] = NAN;
    if (bary) bary[3 * i + k] = NAN;
  }
}

/* The three directions parity votes with: irrational enough to miss edges and vertices of
 * axis-aligned and regular meshes. */
GM_HOST_DEVICE inline GmVec3<double> gm_parity_direction(int k) {
  if (k == 0) return gm_vec(0.5773502691896258, 0.5773502691896258, 0.5773502691896258 * 1.0001);
  if (k == 1) return gm_vec(-0.3141592653589793, 0.8660254037844386, -0.3819660112501051);
  return gm_vec(0.7071067811865476, -0.2718281828459045, -0.6180339887498949);
}

/* Sign of x's distance: -1 inside, +1 outside, by `mode`. */
template <typename T>
GM_HOST_DEVICE inline double gm_sign(const GmBvhView &bvh, GmVec3<T> x, const GmNearest<T> &near,
                                     const GmBvhTriangle &tri, int mode, uint32_t *status) {
  if (mode == GM_SIGN_PSEUDONORMAL) {
    GmVec3<T> a = gm_load3<T>(tri.a), b = gm_load3<T>(tri.b), c = gm_load3<T>(tri.c);
    GmVec3<T> q = a * near.u + b * near.v + c * near.w;
    GmVec3<T> n;
    const GmBvhPseudoNormals &pn = bvh.normals[near.triangle];
    switch (near.feature) {
      case GM_FEATURE_FACE: n = gm_cross(b - a, c - a); break;
      case GM_FEATURE_EDGE_AB: n = gm_load3<T>(pn.edge[0]); break;
      case GM_FEATURE_EDGE_BC: n = gm_load3<T>(pn.edge[1]); break;
      case GM_FEATURE_EDGE_CA: n = gm_load3<T>(pn.edge[2]); break;
      case GM_FEATURE_VERTEX_A: n = gm_load3<T>(pn.vertex[0]); break;
      case GM_FEATURE_VERTEX_B: n = gm_load3<T>(pn.vertex[1]); break;
      default: n = gm_load3<T>(pn.vertex[2]); break;
    }
    return gm_dot(x - q, n) < T(0) ? -1.0 : 1.0;
  }
  if (mode == GM_SIGN_WINDING) {
    T w = gm_winding_number(bvh.nodes, bvh.winding, bvh.tris, x, status);
    return w > T(0.5) ? -1.0 : 1.0;
  }
  int odd = 0;
  for (int k = 0; k < 3; k++) {
    GmVec3<T> d = gm_narrow<T>(gm_parity_direction(k));
    odd += gm_ray_crossings(bvh.nodes, bvh.tris, x, d, status) & 1u;
  }
  return odd >= 2 ? -1.0 : 1.0;
}

/* Writes query i's answer from its nearest triangle (signed by `sign_mode`); outputs may be
 * null. */
template <typename T>
GM_HOST_DEVICE inline void gm_closest_write(uint64_t i, const GmBvhView &bvh, const GmFrame &f,
                                            GmVec3<double> x, const GmNearest<T> &near,
                                            int sign_mode, float *distance, int32_t *face,
                                            float *point, float *bary, uint32_t *status) {
  if (near.triangle < 0) {
    gm_write_miss(i, distance, face, point, bary, INFINITY);
    return;
  }
  GmBvhTriangle tri = gm_fetch_triangle(bvh.tris, static_cast<uint32_t>(near.triangle));
  /* The distance again in double, from the double point: exact to float32 rounding at any range. */
  GmVec3<double> q = gm_load3<double>(tri.a) * static_cast<double>(near.u) +
                     gm_load3<double>(tri.b) * static_cast<double>(near.v) +
                     gm_load3<double>(tri.c) * static_cast<double>(near.w);
  double d = gm_norm(x - q);
  if (sign_mode != GM_SIGN_NONE) d *= gm_sign(bvh, gm_narrow<T>(x), near, tri, sign_mode, status);
  if (distance) distance[i] = static_cast<float>(d);
  if (face) face[i] = tri.id;
  if (point) {
    point[3 * i] = static_cast<float>(q.x + f.origin[0]);
    point[3 * i + 1] = static_cast<float>(q.y + f.origin[1]);
    point[3 * i + 2] = static_cast<float>(q.z + f.origin[2]);
  }
  if (bary) {
    bary[3 * i] = static_cast<float>(near.u);
    bary[3 * i + 1] = static_cast<float>(near.v);
    bary[3 * i + 2] = static_cast<float>(near.w);
  }
}

/* The whole of closest-point query i, in float near the mesh and double far from it. */
template <typename P>
GM_HOST_DEVICE inline void gm_closest_element(uint64_t i, const GmBvhView &bvh, const GmFrame &f,
                                              const P *points, float limit, int sign_mode,
                                              float *distance, int32_t *face, float *point,
                                              float *bary, uint32_t *status) {
  GmVec3<double> x = gm_read_point(points, i, f);
  if (!gm_finite(x)) {
    gm_write_miss(i, distance, face, point, bary, NAN);
  } else if (gm_is_far(x, f)) {
    double limit2 = static_cast<double>(limit) * static_cast<double>(limit);
    GmNearest<double> near = gm_nearest(bvh.distance_nodes, bvh.tris, x, limit2, -1, status);
    gm_closest_write(i, bvh, f, x, near, sign_mode, distance, face, point, bary, status);
  } else {
    float limit2 = limit * limit;
    GmNearest<float> near =
        gm_nearest(bvh.distance_nodes, bvh.tris, gm_narrow<float>(x), limit2, -1, status);
    gm_closest_write(i, bvh, f, x, near, sign_mode, distance, face, point, bary, status);
  }
}

GM_HOST_DEVICE inline void gm_write_ray_miss(uint64_t i, float *t_out, int32_t *face, float *bary,
                                             float value) {
  if (t_out) t_out[i] = value;
  if (face) face[i] = -1;
  if (bary) bary[3 * i] = bary[3 * i + 1] = bary[3 * i + 2] = NAN;
}

template <typename P>
GM_HOST_DEVICE inline GmVec3<double> gm_read_direction(const P *directions, uint64_t i) {
  return gm_vec(static_cast<double>(directions[3 * i]), static_cast<double>(directions[3 * i + 1]),
                static_cast<double>(directions[3 * i + 2]));
}

/* Writes ray i's answer: t, the input index of the triangle hit and its barycentric weights. */
template <typename T>
GM_HOST_DEVICE inline void gm_ray_write(uint64_t i, const GmBvhView &bvh, const GmRayResult<T> &r,
                                        float *t_out, int32_t *face, float *bary) {
  if (r.triangle < 0) {
    gm_write_ray_miss(i, t_out, face, bary, INFINITY);
    return;
  }
  if (t_out) t_out[i] = static_cast<float>(r.t);
  if (face) face[i] = gm_fetch_triangle(bvh.tris, static_cast<uint32_t>(r.triangle)).id;
  if (bary) {
    bary[3 * i] = static_cast<float>(T(1) - r.u - r.v);
    bary[3 * i + 1] = static_cast<float>(r.u);
    bary[3 * i + 2] = static_cast<float>(r.v);
  }
}

template <typename T>
GM_HOST_DEVICE inline void gm_ray_query(uint64_t i, const GmBvhView &bvh, GmVec3<double> o,
                                        GmVec3<double> d, float t_max, int any_hit, float *t_out,
                                        int32_t *face, float *bary, uint32_t *status) {
  GmRayResult<T> r = gm_ray_cast(bvh.nodes, bvh.tris, gm_narrow<T>(o), gm_narrow<T>(d),
                                 static_cast<T>(t_max), any_hit != 0, status);
  gm_ray_write(i, bvh, r, t_out, face, bary);
}

/* The whole of ray query i, in float near the mesh and double far from it. */
template <typename P>
GM_HOST_DEVICE inline void gm_ray_element(uint64_t i, const GmBvhView &bvh, const GmFrame &f,
                                          const P *origins, const P *directions, float t_max,
                                          int any_hit, float *t_out, int32_t *face, float *bary,
                                          uint32_t *status) {
  GmVec3<double> o = gm_read_point(origins, i, f);
  GmVec3<double> d = gm_read_direction(directions, i);
  if (!gm_finite(o) || !gm_finite(d)) {
    gm_write_ray_miss(i, t_out, face, bary, NAN);
  } else if (gm_is_far(o, f)) {
    gm_ray_query<double>(i, bvh, o, d, t_max, any_hit, t_out, face, bary, status);
  } else {
    gm_ray_query<float>(i, bvh, o, d, t_max, any_hit, t_out, face, bary, status);
  }
}

/* The Morton code of query point i in the BVH's bounds (for the space-filling-curve order). */
template <typename P>
GM_HOST_DEVICE inline void gm_query_morton(uint64_t i, const GmFrame &f, const P *points,
                                           uint32_t *keys, uint32_t *values) {
  GmVec3<double> x = gm_read_point(points, i, f);
  float scale[3];
  gm_morton_scale(f.lo, f.hi, scale);
  keys[i] = gm_morton(static_cast<float>(x.x), static_cast<float>(x.y), static_cast<float>(x.z),
                      f.lo, scale);
  values[i] = static_cast<uint32_t>(i);
}

#endif
