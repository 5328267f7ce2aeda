/* BVH queries for one point or ray, shared by both builds: closest point, closest or any ray hit,
 * ray crossings (parity), and the generalised winding number.
 *
 * Traversal visits the nearer child first, keeps the farther one on a stack with its distance,
 * and prunes by the best answer so far. T is float for queries near the mesh and double for those
 * far from it, where float32 could not tell the nearest triangles apart (bvh_kernels.h). */
#ifndef GPUMEM_BVH_QUERY_H
#define GPUMEM_BVH_QUERY_H

#include "bvh_geometry.h"

#if defined(__CUDA_ARCH__)
/* A node's boxes and references (its first four words): what rays read. */
GM_HOST_DEVICE inline GmBvhNode gm_fetch_boxes(const GmBvhNode *nodes, int32_t i) {
  const float4 *p = reinterpret_cast<const float4 *>(nodes + i);
  float4 w0 = __ldg(p), w1 = __ldg(p + 1), w2 = __ldg(p + 2);
  int4 w3 = __ldg(reinterpret_cast<const int4 *>(p + 3));
  GmBvhNode n;
  n.box[0] = w0.x, n.box[1] = w0.y, n.box[2] = w0.z, n.box[3] = w0.w;
  n.box[4] = w1.x, n.box[5] = w1.y, n.box[6] = w1.z, n.box[7] = w1.w;
  n.box[8] = w2.x, n.box[9] = w2.y, n.box[10] = w2.z, n.box[11] = w2.w;
  n.child[0] = w3.x, n.child[1] = w3.y;
  n.count[0] = static_cast<uint32_t>(w3.z), n.count[1] = static_cast<uint32_t>(w3.w);
  return n;
}
/* A whole node, slabs included: what distance queries read. */
GM_HOST_DEVICE inline GmBvhNode gm_fetch_node(const GmBvhNode *nodes, int32_t i) {
  GmBvhNode n = gm_fetch_boxes(nodes, i);
  const float4 *p = reinterpret_cast<const float4 *>(nodes + i) + 4;
  float4 w0 = __ldg(p), w1 = __ldg(p + 1), w2 = __ldg(p + 2);
  GmBvhSlab &s = n.slab;
  s.axis[0][0] = w0.x, s.axis[0][1] = w0.y, s.axis[0][2] = w0.z, s.axis[1][0] = w0.w;
  s.axis[1][1] = w1.x, s.axis[1][2] = w1.y, s.lo[0] = w1.z, s.lo[1] = w1.w;
  s.hi[0] = w2.x, s.hi[1] = w2.y, s.size[0] = __float_as_uint(w2.z), s.size[1] = __float_as_uint(w2.w);
  return n;
}
GM_HOST_DEVICE inline GmBvhTriangle gm_fetch_triangle(const GmBvhTriangle *tris, uint32_t i) {
  const float4 *p = reinterpret_cast<const float4 *>(tris + i);
  float4 w0 = __ldg(p), w1 = __ldg(p + 1), w2 = __ldg(p + 2);
  GmBvhTriangle t;
  t.a[0] = w0.x, t.a[1] = w0.y, t.a[2] = w0.z, t.id = __float_as_int(w0.w);
  t.b[0] = w1.x, t.b[1] = w1.y, t.b[2] = w1.z, t.unused_b = w1.w;
  t.c[0] = w2.x, t.c[1] = w2.y, t.c[2] = w2.z, t.unused_c = w2.w;
  return t;
}
#else
inline GmBvhNode gm_fetch_node(const GmBvhNode *nodes, int32_t i) { return nodes[i]; }
inline GmBvhNode gm_fetch_boxes(const GmBvhNode *nodes, int32_t i) { return nodes[i]; }
inline GmBvhTriangle gm_fetch_triangle(const GmBvhTriangle *tris, uint32_t i) { return tris[i]; }
#endif

/* Squared distance from x to child `side`'s slab (0 inside it; unbounded slabs are never away). */
template <typename T>
GM_HOST_DEVICE inline T gm_slab_distance2(GmVec3<T> x, const GmBvhSlab &s, int side) {
#ifdef GM_NO_SLABS
  return T(0);
#endif
  T p = gm_dot(gm_load3<T>(s.axis[side]), x);
  T d = gm_max(gm_max(T(s.lo[side]) - p, p - T(s.hi[side])), T(0));
  return d * d;
}

/* A lower bound on the squared distance from x to anything under each child of a node: the
 * farther of its box and its slab. */
template <typename T>
GM_HOST_DEVICE inline void gm_child_bounds(GmVec3<T> x, const GmBvhNode &node, T *d) {
  const GmBvhSlab &slab = node.slab;
  for (int side = 0; side < 2; side++) {
    d[side] = gm_max(gm_box_distance2(x, node.box + 6 * side, node.box + 6 * side + 3),
                     gm_slab_distance2(x, slab, side));
  }
}

template <typename T>
struct GmNearest {
  T distance2;
  T u, v, w;
  int32_t triangle; /* position in BVH order, -1 when none lies within the limit */
  int feature;
  bool exhausted;   /* gave up after `budget` nodes (the answer is not final) */
};

template <typename T>
GM_HOST_DEVICE inline GmNearest<T> gm_no_nearest(T limit2) {
  GmNearest<T> best;
  best.distance2 = limit2;
  best.triangle = -1;
  best.u = best.v = best.w = T(0);
  best.feature = 0;
  best.exhausted = false;
  return best;
}

/* Tests leaf `child` of a node (count triangles from ~child) against x, keeping the nearest. */
template <typename T>
GM_HOST_DEVICE inline void gm_nearest_in_leaf(const GmBvhTriangle *tris, int32_t child,
                                              uint32_t count, GmVec3<T> x, GmNearest<T> &best) {
  uint32_t first = static_cast<uint32_t>(~child);
  for (uint32_t t = first; t < first + count; t++) {
    GmBvhTriangle tri = gm_fetch_triangle(tris, t);
    GmClosest<T> c =
        gm_closest_on_triangle(x, gm_load3<T>(tri.a), gm_load3<T>(tri.b), gm_load3<T>(tri.c));
    if (c.distance2 < best.distance2) {
      best.distance2 = c.distance2, best.u = c.u, best.v = c.v, best.w = c.w;
      best.triangle = static_cast<int32_t>(t), best.feature = c.feature;
    }
  }
}

/* The stack of a nearest-first traversal: nodes left for later with the key (distance, or ray
 * parameter) they were found at, so that they can be skipped once something nearer is known. */
template <typename T>
struct GmTraversal {
  int32_t node[GM_BVH_STACK];
  T key[GM_BVH_STACK];
  int depth = 0;
  int32_t current = 0;

  /* After visiting `current` (children with keys key[0], key[1]; go[s]: child s is a node worth
   * visiting): moves to the nearer child and keeps the farther, or to the nearest node left that
   * `keep` still wants. False once nothing is left, or when the stack is full (*status says). */
  template <typename Keep>
  GM_HOST_DEVICE bool advance(const GmBvhNode &n, const T *keys, const bool *go, Keep keep,
                              uint32_t *status) {
    if (go[0] && go[1]) {
      int near = keys[1] < keys[0] ? 1 : 0;
      if (depth == GM_BVH_STACK) {
        *status |= GM_QUERY_STACK_OVERFLOW;
        return false;
      }
      node[depth] = n.child[1 - near];
      key[depth++] = keys[1 - near];
      current = n.child[near];
      return true;
    }
    if (go[0] || go[1]) {
      current = n.child[go[0] ? 0 : 1];
      return true;
    }
    for (;;) {
      if (depth == 0) return false;
      depth--;
      if (keep(key[depth])) break;
    }
    current = node[depth];
    return true;
  }
};

/* The closest point of the mesh to x within sqrt(limit2), visiting at most `budget` nodes (a
 * negative budget: no limit); past it, the result says `exhausted`. */
template <typename T>
GM_HOST_DEVICE inline GmNearest<T> gm_nearest(const GmBvhNode *nodes, const GmBvhTriangle *tris,
                                              GmVec3<T> x, T limit2, int budget,
                                              uint32_t *status) {
  GmNearest<T> best = gm_no_nearest(limit2);
  GmTraversal<T> walk;
  do {
    if (budget-- == 0) {
      best.exhausted = true;
      return best;
    }
    GmBvhNode node = gm_fetch_node(nodes, walk.current);
    T d[2];
    gm_child_bounds(x, node, d);
    /* Leaves are searched at once, nearer first, so that their answer prunes what follows. */
    int order0 = d[1] < d[0] ? 1 : 0;
    for (int k = 0; k < 2; k++) {
      int side = k == 0 ? order0 : 1 - order0;
      if (node.child[side] >= 0 || !(d[side] < best.distance2)) continue;
      gm_nearest_in_leaf(tris, node.child[side], node.count[side], x, best);
    }
    bool go[2] = {node.child[0] >= 0 && d[0] < best.distance2,
                  node.child[1] >= 0 && d[1] < best.distance2};
    if (!walk.advance(node, d, go, [&](T key) { return key < best.distance2; }, status)) break;
  } while (true);
  return best;
}

template <typename T>
struct GmRayResult {
  T t, u, v;
  int32_t triangle; /* position in BVH order, -1 on a miss */
};

template <typename T>
GM_HOST_DEVICE inline GmVec3<T> gm_inverse(GmVec3<T> d) {
  /* 1/±0 is ±inf: the slab test then keeps the ray inside the slab only if it starts there. */
  return gm_vec(T(1) / d.x, T(1) / d.y, T(1) / d.z);
}

/* The nearest hit of o + t·d for t in [0, t_max], or with any_hit the first one found. */
template <typename T>
GM_HOST_DEVICE inline GmRayResult<T> gm_ray_cast(const GmBvhNode *nodes, const GmBvhTriangle *tris,
                                                 GmVec3<T> o, GmVec3<T> d, T t_max, bool any_hit,
                                                 uint32_t *status) {
  GmRayResult<T> best;
  best.t = t_max;
  best.u = best.v = T(0);
  best.triangle = -1;
  GmVec3<T> inv = gm_inverse(d);
  GmTraversal<T> walk;
  do {
    GmBvhNode node = gm_fetch_boxes(nodes, walk.current);
    T te[2] = {gm_ray_box(o, inv, node.box, node.box + 3, best.t),
               gm_ray_box(o, inv, node.box + 6, node.box + 9, best.t)};
    int order0 = te[1] < te[0] ? 1 : 0; /* a miss (NaN) sorts either way: it is skipped */
    for (int k = 0; k < 2; k++) {
      int side = k == 0 ? order0 : 1 - order0;
      if (node.child[side] >= 0 || !(te[side] <= best.t)) continue;
      uint32_t first = static_cast<uint32_t>(~node.child[side]);
      for (uint32_t t = first; t < first + node.count[side]; t++) {
        GmBvhTriangle tri = gm_fetch_triangle(tris, t);
        T th, u, v;
        if (gm_ray_triangle(o, d, gm_load3<T>(tri.a), gm_load3<T>(tri.b), gm_load3<T>(tri.c),
                            best.t, &th, &u, &v) &&
            (best.triangle < 0 || th < best.t)) {
          best.t = th, best.u = u, best.v = v, best.triangle = static_cast<int32_t>(t);
          if (any_hit) return best;
        }
      }
    }
    bool go[2] = {node.child[0] >= 0 && te[0] <= best.t, node.child[1] >= 0 && te[1] <= best.t};
    if (!walk.advance(node, te, go, [&](T key) { return key <= best.t; }, status)) break;
  } while (true);
  return best;
}

/* How many triangles the ray o + t·d, t > 0, crosses (every hit counted once). */
template <typename T>
GM_HOST_DEVICE inline uint32_t gm_ray_crossings(const GmBvhNode *nodes, const GmBvhTriangle *tris,
                                                GmVec3<T> o, GmVec3<T> d, uint32_t *status) {
  GmVec3<T> inv = gm_inverse(d);
  const T far = T(INFINITY);
  int32_t stack[GM_BVH_STACK];
  int depth = 0;
  int32_t current = 0;
  uint32_t crossings = 0;
  for (;;) {
    GmBvhNode node = gm_fetch_boxes(nodes, current);
    bool go[2] = {false, false};
    for (int side = 0; side < 2; side++) {
      if (!(gm_ray_box(o, inv, node.box + 6 * side, node.box + 6 * side + 3, far) >= T(0))) continue;
      if (node.child[side] >= 0) {
        go[side] = true;
        continue;
      }
      uint32_t first = static_cast<uint32_t>(~node.child[side]);
      for (uint32_t t = first; t < first + node.count[side]; t++) {
        GmBvhTriangle tri = gm_fetch_triangle(tris, t);
        T th, u, v;
        if (gm_ray_triangle(o, d, gm_load3<T>(tri.a), gm_load3<T>(tri.b), gm_load3<T>(tri.c), far,
                            &th, &u, &v) &&
            th > T(0)) {
          crossings++;
        }
      }
    }
    if (go[0] && go[1]) {
      if (depth == GM_BVH_STACK) {
        *status |= GM_QUERY_STACK_OVERFLOW;
        return crossings;
      }
      stack[depth++] = node.child[1];
      current = node.child[0];
    } else if (go[0] || go[1]) {
      current = node.child[go[0] ? 0 : 1];
    } else {
      if (depth == 0) return crossings;
      current = stack[--depth];
    }
  }
}

/* Subtrees farther than this many of their radii use their dipole (Barill et al. 2018, β = 2). */
#define GM_WINDING_BETA 2.0

/* The generalised winding number at x: ~1 inside a closed outward mesh, ~0 outside, in between
 * near holes. Exact for near triangles, a dipole for far subtrees. */
template <typename T>
GM_HOST_DEVICE inline T gm_winding_number(const GmBvhNode *nodes, const GmBvhWinding *winding,
                                          const GmBvhTriangle *tris, GmVec3<T> x,
                                          uint32_t *status) {
  int32_t stack[GM_BVH_STACK];
  int depth = 0;
  int32_t current = 0;
  T total = T(0);
  for (;;) {
    GmBvhNode node = gm_fetch_boxes(nodes, current);
    const GmBvhWinding &w = winding[current];
    bool go[2] = {false, false};
    for (int side = 0; side < 2; side++) {
      const float *lo = node.box + 6 * side, *hi = lo + 3;
      if (node.child[side] < 0) {
        uint32_t first = static_cast<uint32_t>(~node.child[side]);
        for (uint32_t t = first; t < first + node.count[side]; t++) {
          GmBvhTriangle tri = gm_fetch_triangle(tris, t);
          total += gm_solid_angle(x, gm_load3<T>(tri.a), gm_load3<T>(tri.b), gm_load3<T>(tri.c));
        }
        continue;
      }
      GmVec3<T> centre = gm_load3<T>(w.centre[side]);
      GmVec3<T> far_corner = gm_vec(gm_max(T(hi[0]) - centre.x, centre.x - T(lo[0])),
                                    gm_max(T(hi[1]) - centre.y, centre.y - T(lo[1])),
                                    gm_max(T(hi[2]) - centre.z, centre.z - T(lo[2])));
      T radius = gm_norm(far_corner);
      GmVec3<T> r = centre - x;
      T distance = gm_norm(r);
      if (distance > T(GM_WINDING_BETA) * radius) {
        total += gm_dot(r, gm_load3<T>(w.area[side])) / (distance * distance * distance);
      } else {
        go[side] = true;
      }
    }
    if (go[0] && go[1]) {
      if (depth == GM_BVH_STACK) {
        *status |= GM_QUERY_STACK_OVERFLOW;
        break;
      }
      stack[depth++] = node.child[1];
      current = node.child[0];
    } else if (go[0] || go[1]) {
      current = node.child[go[0] ? 0 : 1];
    } else {
      if (depth == 0) break;
      current = stack[--depth];
    }
  }
  return total / T(4.0 * 3.14159265358979323846);
}

#endif
