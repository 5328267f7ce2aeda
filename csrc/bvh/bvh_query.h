/* BVH queries for one point or ray, shared by both builds: closest point, closest or any ray hit,
 * ray crossings (parity), and the generalised winding number.
 *
 * Traversal visits the nearer child first, keeps the farther one on a stack with its distance,
 * and prunes by the best answer so far. T is float for queries near the mesh and double for those
 * far from it, where float32 could not tell the nearest triangles apart (bvh_elements.h). */
#ifndef GPUMEM_BVH_QUERY_H
#define GPUMEM_BVH_QUERY_H

#include "bvh_geometry.h"

/* Loops over a node's two children, unrolled (the CPU compiler unrolls them on its own; nvcc's
 * host pass would warn of the pragma). */
#if defined(__CUDA_ARCH__)
#define GM_UNROLL _Pragma("unroll")
#else
#define GM_UNROLL
#endif

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
/* A distance node (eight words): what closest-point queries read. */
GM_HOST_DEVICE inline GmBvhDistanceNode gm_fetch_distance_node(const GmBvhDistanceNode *nodes,
                                                               int32_t i) {
  const float4 *p = reinterpret_cast<const float4 *>(nodes + i);
  GmBvhDistanceNode n;
  for (int side = 0; side < 2; side++) {
    float4 w0 = __ldg(p + 3 * side), w1 = __ldg(p + 3 * side + 1), w2 = __ldg(p + 3 * side + 2);
    GmBvhOrientedBox &b = n.box[side];
    b.centre[0] = w0.x, b.centre[1] = w0.y, b.centre[2] = w0.z, b.normal[0] = w0.w;
    b.normal[1] = w1.x, b.normal[2] = w1.y, b.lateral[0] = w1.z, b.lateral[1] = w1.w;
    b.lateral[2] = w2.x, b.half[0] = w2.y, b.half[1] = w2.z, b.half[2] = w2.w;
  }
  /* Word 6 holds the references; word 7 (sizes and first positions) is the build's only. */
  int4 w6 = __ldg(reinterpret_cast<const int4 *>(p + 6));
  n.child[0] = w6.x, n.child[1] = w6.y;
  n.count[0] = static_cast<uint32_t>(w6.z), n.count[1] = static_cast<uint32_t>(w6.w);
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
inline GmBvhDistanceNode gm_fetch_distance_node(const GmBvhDistanceNode *nodes, int32_t i) {
  return nodes[i];
}
inline GmBvhNode gm_fetch_boxes(const GmBvhNode *nodes, int32_t i) { return nodes[i]; }
inline GmBvhTriangle gm_fetch_triangle(const GmBvhTriangle *tris, uint32_t i) { return tris[i]; }
#endif

/* A lower bound on the squared distance from x to anything inside oriented box b: the distance to
 * the box, less a millionth for x's own rounding against the box's axes. */
template <typename T>
GM_HOST_DEVICE inline T gm_oriented_distance2(GmVec3<T> x, const GmBvhOrientedBox &b) {
  GmVec3<T> n = gm_load3<T>(b.normal), u = gm_load3<T>(b.lateral);
  GmVec3<T> d = x - gm_load3<T>(b.centre);
  T along[3] = {gm_dot(d, n), gm_dot(d, u), gm_dot(d, gm_cross(n, u))};
  T sum = T(0);
  for (int k = 0; k < 3; k++) {
    T excess = gm_max(gm_max(along[k], -along[k]) - T(b.half[k]), T(0));
    sum += excess * excess;
  }
  return sum * T(1.0 - 1e-6);
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

/* A node's two children, the one with the smaller key (distance, or ray parameter) first. Every
 * index is a constant once unrolled, so the node stays in registers (an index chosen at run time
 * would put it in local memory). */
template <typename T>
struct GmOrderedChildren {
  int32_t child[2];
  uint32_t count[2];
  T key[2];
};

template <typename T, typename Node>
GM_HOST_DEVICE inline GmOrderedChildren<T> gm_order_children(const Node &n, T key0, T key1) {
  bool swap = key1 < key0; /* a NaN key (a ray's miss) sorts either way: it is skipped */
  GmOrderedChildren<T> o;
  o.child[0] = swap ? n.child[1] : n.child[0], o.child[1] = swap ? n.child[0] : n.child[1];
  o.count[0] = swap ? n.count[1] : n.count[0], o.count[1] = swap ? n.count[0] : n.count[1];
  o.key[0] = swap ? key1 : key0, o.key[1] = swap ? key0 : key1;
  return o;
}

/* The stack of a nearest-first traversal: nodes left for later with the key they were found at,
 * so that they can be skipped once something nearer is known. */
template <typename T>
struct GmTraversal {
  int32_t node[GM_BVH_STACK];
  T key[GM_BVH_STACK];
  int depth = 0;
  int32_t current = 0;

  /* After visiting `current` (go_near, go_far: that ordered child is a node worth visiting):
   * moves to the nearer child and keeps the farther, or to the nearest node left that `keep`
   * still wants. False once nothing is left, or when the stack is full (*status says). */
  template <typename Keep>
  GM_HOST_DEVICE bool advance(const GmOrderedChildren<T> &c, bool go_near, bool go_far, Keep keep,
                              uint32_t *status) {
    if (go_near && go_far) {
      if (depth == GM_BVH_STACK) {
        *status |= GM_QUERY_STACK_OVERFLOW;
        return false;
      }
      node[depth] = c.child[1];
      key[depth++] = c.key[1];
      current = c.child[0];
      return true;
    }
    if (go_near || go_far) {
      current = go_near ? c.child[0] : c.child[1];
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
GM_HOST_DEVICE inline GmNearest<T> gm_nearest(const GmBvhDistanceNode *nodes,
                                              const GmBvhTriangle *tris,
                                              GmVec3<T> x, T limit2, int budget,
                                              uint32_t *status) {
  GmNearest<T> best = gm_no_nearest(limit2);
  GmTraversal<T> walk;
  do {
    if (budget-- == 0) {
      best.exhausted = true;
      return best;
    }
    GmBvhDistanceNode node = gm_fetch_distance_node(nodes, walk.current);
    GmOrderedChildren<T> c = gm_order_children(node, gm_oriented_distance2(x, node.box[0]),
                                               gm_oriented_distance2(x, node.box[1]));
    /* Leaves are searched at once, nearer first, so that their answer prunes what follows. */
    GM_UNROLL
    for (int k = 0; k < 2; k++) {
      if (c.child[k] < 0 && c.key[k] < best.distance2) {
        gm_nearest_in_leaf(tris, c.child[k], c.count[k], x, best);
      }
    }
    bool go_near = c.child[0] >= 0 && c.key[0] < best.distance2;
    bool go_far = c.child[1] >= 0 && c.key[1] < best.distance2;
    if (!walk.advance(c, go_near, go_far, [&](T key) { return key < best.distance2; }, status)) {
      break;
    }
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

/* Tests the ray o + t·d against leaf run [first, first + count), keeping the nearest hit within
 * best.t; true when a hit was found and any_hit says the first one is enough. */
template <typename T>
GM_HOST_DEVICE inline bool gm_ray_in_leaf(const GmBvhTriangle *tris, uint32_t first,
                                          uint32_t count, GmVec3<T> o, GmVec3<T> d, bool any_hit,
                                          GmRayResult<T> &best) {
  for (uint32_t t = first; t < first + count; t++) {
    GmBvhTriangle tri = gm_fetch_triangle(tris, t);
    T th, u, v;
    if (gm_ray_triangle(o, d, gm_load3<T>(tri.a), gm_load3<T>(tri.b), gm_load3<T>(tri.c), best.t,
                        &th, &u, &v) &&
        (best.triangle < 0 || th < best.t)) {
      best.t = th, best.u = u, best.v = v, best.triangle = static_cast<int32_t>(t);
      if (any_hit) return true;
    }
  }
  return false;
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
    GmOrderedChildren<T> c =
        gm_order_children(node, gm_ray_box(o, inv, node.box, node.box + 3, best.t),
                          gm_ray_box(o, inv, node.box + 6, node.box + 9, best.t));
    GM_UNROLL
    for (int k = 0; k < 2; k++) {
      if (c.child[k] >= 0 || !(c.key[k] <= best.t)) continue;
      uint32_t first = static_cast<uint32_t>(~c.child[k]);
      if (gm_ray_in_leaf(tris, first, c.count[k], o, d, any_hit, best)) return best;
    }
    bool go_near = c.child[0] >= 0 && c.key[0] <= best.t;
    bool go_far = c.child[1] >= 0 && c.key[1] <= best.t;
    if (!walk.advance(c, go_near, go_far, [&](T key) { return key <= best.t; }, status)) break;
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
      current = go[0] ? node.child[0] : node.child[1];
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
      current = go[0] ? node.child[0] : node.child[1];
    } else {
      if (depth == 0) break;
      current = stack[--depth];
    }
  }
  return total / T(4.0 * 3.14159265358979323846);
}

#endif
