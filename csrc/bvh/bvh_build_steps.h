/* The steps of a BVH build, one element at a time. The CUDA build runs each as a kernel over its
 * elements and the CPU build as a parallel loop, so both make the same tree:
 *
 *   triangle bounds -> Morton codes -> sort -> gather triangles in code order -> Karras hierarchy
 *   (Karras 2012) -> keep the nodes with more than leaf_size triangles (scan) -> emit them with
 *   leaf runs -> boxes and winding dipoles bottom-up (also a refit). */
#ifndef GPUMEM_BVH_BUILD_STEPS_H
#define GPUMEM_BVH_BUILD_STEPS_H

#include <stdint.h>
#include <string.h>

#include "bvh_geometry.h"

#if defined(__CUDA_ARCH__)
#define GM_CLZ32(x) __clz(x)
#else
#define GM_CLZ32(x) ((x) == 0 ? 32 : __builtin_clz(x))
#endif

/* Karras node k's children: an internal node index, or GM_LEAF_BIT | triangle position. */
#define GM_LEAF_BIT 0x80000000u

/* Per internal node of the Karras hierarchy (scratch). */
struct GmKarrasNode {
  uint32_t child[2];
  uint32_t first, last; /* triangle positions the node covers */
  uint32_t parent;
  uint32_t kept; /* 1 when it stays a node (more than leaf_size triangles) */
};

/* Vertex `i` relative to the origin, rounded to float once, from float or double coordinates. */
template <typename V>
GM_HOST_DEVICE inline GmVec3<float> gm_vertex(const V *vertices, uint32_t i, const double *origin) {
  return gm_vec(static_cast<float>(static_cast<double>(vertices[3 * (uint64_t)i]) - origin[0]),
                static_cast<float>(static_cast<double>(vertices[3 * (uint64_t)i + 1]) - origin[1]),
                static_cast<float>(static_cast<double>(vertices[3 * (uint64_t)i + 2]) - origin[2]));
}

template <typename V>
GM_HOST_DEVICE inline GmVec3<float> gm_centroid(const V *vertices, const uint32_t *triangles,
                                                uint64_t t, const double *origin) {
  GmVec3<float> a = gm_vertex(vertices, triangles[3 * t], origin);
  GmVec3<float> b = gm_vertex(vertices, triangles[3 * t + 1], origin);
  GmVec3<float> c = gm_vertex(vertices, triangles[3 * t + 2], origin);
  return gm_vec((a.x + b.x + c.x) * (1.0f / 3.0f), (a.y + b.y + c.y) * (1.0f / 3.0f),
                (a.z + b.z + c.z) * (1.0f / 3.0f));
}

template <typename V>
GM_HOST_DEVICE inline void gm_step_morton(uint64_t t, const V *vertices, const uint32_t *triangles,
                                          const double *origin, const float *lo,
                                          const float *scale, uint32_t *keys, uint32_t *values) {
  GmVec3<float> c = gm_centroid(vertices, triangles, t, origin);
  keys[t] = gm_morton(c.x, c.y, c.z, lo, scale);
  values[t] = static_cast<uint32_t>(t);
}

/* Writes triangle `s` of code order: its vertices and input index, and its vertex indices (kept
 * for refits and pseudo-normals). */
template <typename V>
GM_HOST_DEVICE inline void gm_step_gather(uint64_t s, const V *vertices, const uint32_t *triangles,
                                          const double *origin, const uint32_t *order,
                                          GmBvhTriangle *out, uint32_t *indices_out) {
  uint32_t t = order[s];
  uint32_t i0 = triangles[3 * (uint64_t)t], i1 = triangles[3 * (uint64_t)t + 1],
           i2 = triangles[3 * (uint64_t)t + 2];
  GmVec3<float> a = gm_vertex(vertices, i0, origin), b = gm_vertex(vertices, i1, origin),
                c = gm_vertex(vertices, i2, origin);
  GmBvhTriangle tri;
  tri.a[0] = a.x, tri.a[1] = a.y, tri.a[2] = a.z, tri.id = static_cast<int32_t>(t);
  tri.b[0] = b.x, tri.b[1] = b.y, tri.b[2] = b.z, tri.unused_b = 0.0f;
  tri.c[0] = c.x, tri.c[1] = c.y, tri.c[2] = c.z, tri.unused_c = 0.0f;
  out[s] = tri;
  indices_out[3 * s] = i0, indices_out[3 * s + 1] = i1, indices_out[3 * s + 2] = i2;
}

/* A refit's gather: the same triangles, new vertex positions. */
template <typename V>
GM_HOST_DEVICE inline void gm_step_regather(uint64_t s, const V *vertices, const uint32_t *indices,
                                            const double *origin, GmBvhTriangle *tris) {
  GmVec3<float> a = gm_vertex(vertices, indices[3 * s], origin),
                b = gm_vertex(vertices, indices[3 * s + 1], origin),
                c = gm_vertex(vertices, indices[3 * s + 2], origin);
  GmBvhTriangle &tri = tris[s];
  tri.a[0] = a.x, tri.a[1] = a.y, tri.a[2] = a.z;
  tri.b[0] = b.x, tri.b[1] = b.y, tri.b[2] = b.z;
  tri.c[0] = c.x, tri.c[1] = c.y, tri.c[2] = c.z;
}

/* Length of the common prefix of (code, index) at positions i and j; -1 outside [0, n). */
GM_HOST_DEVICE inline int gm_delta(const uint32_t *codes, int64_t n, int64_t i, int64_t j) {
  if (j < 0 || j >= n) return -1;
  uint32_t a = codes[i], b = codes[j];
  if (a == b) return 32 + GM_CLZ32(static_cast<uint32_t>(i ^ j));
  return GM_CLZ32(a ^ b);
}

/* Internal node i of n - 1 (Karras 2012, "Maximizing parallelism in the construction of BVHs"). */
GM_HOST_DEVICE inline void gm_step_karras(int64_t i, const uint32_t *codes, int64_t n,
                                          uint32_t leaf_size, GmKarrasNode *nodes) {
  int d = gm_delta(codes, n, i, i + 1) - gm_delta(codes, n, i, i - 1) >= 0 ? 1 : -1;
  int delta_min = gm_delta(codes, n, i, i - d);
  int64_t l_max = 2;
  while (gm_delta(codes, n, i, i + l_max * d) > delta_min) l_max *= 2;
  int64_t l = 0;
  for (int64_t t = l_max / 2; t >= 1; t /= 2) {
    if (gm_delta(codes, n, i, i + (l + t) * d) > delta_min) l += t;
  }
  int64_t j = i + l * d;
  int delta_node = gm_delta(codes, n, i, j);
  int64_t s = 0;
  for (int64_t t = l;;) {
    t = (t + 1) / 2;
    if (gm_delta(codes, n, i, i + (s + t) * d) > delta_node) s += t;
    if (t <= 1) break;
  }
  int64_t gamma = i + s * d + (d < 0 ? -1 : 0);
  int64_t first = i < j ? i : j, last = i < j ? j : i;
  GmKarrasNode &node = nodes[i];
  node.first = static_cast<uint32_t>(first);
  node.last = static_cast<uint32_t>(last);
  node.kept = (last - first + 1) > static_cast<int64_t>(leaf_size) ? 1u : 0u;
  node.child[0] = first == gamma ? (GM_LEAF_BIT | static_cast<uint32_t>(gamma))
                                 : static_cast<uint32_t>(gamma);
  node.child[1] = last == gamma + 1 ? (GM_LEAF_BIT | static_cast<uint32_t>(gamma + 1))
                                    : static_cast<uint32_t>(gamma + 1);
  if (!(node.child[0] & GM_LEAF_BIT)) nodes[gamma].parent = static_cast<uint32_t>(i);
  if (!(node.child[1] & GM_LEAF_BIT)) nodes[gamma + 1].parent = static_cast<uint32_t>(i);
  if (i == 0) node.parent = 0xFFFFFFFFu;
}

/* Writes kept Karras node i as node index[i] (an exclusive scan of `kept`), its children as node
 * references or leaf runs, its parent, and how many node children it waits for bottom-up. */
GM_HOST_DEVICE inline void gm_step_emit(int64_t i, const GmKarrasNode *karras,
                                        const uint32_t *index, GmBvhNode *nodes,
                                        GmBvhDistanceNode *distance_nodes, int32_t *parents,
                                        int32_t *pending) {
  const GmKarrasNode &k = karras[i];
  if (!k.kept) return;
  uint32_t j = index[i];
  GmBvhNode node;
  GmBvhDistanceNode dn;
  memset(&node, 0, sizeof node);
  memset(&dn, 0, sizeof dn);
  int waits = 0;
  for (int side = 0; side < 2; side++) {
    uint32_t c = k.child[side];
    if (c & GM_LEAF_BIT) {
      node.child[side] = ~static_cast<int32_t>(c & ~GM_LEAF_BIT);
      node.count[side] = 1;
      dn.size[side] = 1;
    } else if (!karras[c].kept) {
      node.child[side] = ~static_cast<int32_t>(karras[c].first);
      node.count[side] = karras[c].last - karras[c].first + 1;
      dn.size[side] = node.count[side];
    } else {
      node.child[side] = static_cast<int32_t>(index[c]);
      node.count[side] = 0;
      dn.size[side] = karras[c].last - karras[c].first + 1;
      waits++;
    }
    dn.child[side] = node.child[side], dn.count[side] = node.count[side];
  }
  nodes[j] = node;
  distance_nodes[j] = dn;
  parents[j] = i == 0 ? -1 : static_cast<int32_t>(index[k.parent]);
  pending[j] = waits;
}

/* The tree of a mesh with at most leaf_size triangles: one node, all of them in one leaf. */
GM_HOST_DEVICE inline void gm_emit_single_leaf(uint32_t triangle_count, GmBvhNode *nodes,
                                               GmBvhDistanceNode *distance_nodes, int32_t *parents,
                                               int32_t *pending) {
  GmBvhNode node;
  GmBvhDistanceNode dn;
  memset(&node, 0, sizeof node);
  memset(&dn, 0, sizeof dn);
  node.child[0] = ~0;
  node.count[0] = triangle_count;
  node.child[1] = ~0;
  node.count[1] = 0; /* an empty leaf: its box stays empty (lo > hi), so nothing enters it */
  for (int side = 0; side < 2; side++) {
    dn.child[side] = node.child[side], dn.count[side] = node.count[side];
    dn.size[side] = node.count[side];
  }
  nodes[0] = node;
  distance_nodes[0] = dn;
  parents[0] = -1;
  pending[0] = 0;
}

/* How many node children node j waits for (a refit's fresh counters). A child is a node when its
 * reference is >= 0 and a leaf (possibly empty) when it is negative. */
GM_HOST_DEVICE inline void gm_step_pending(uint64_t j, const GmBvhNode *nodes, int32_t *pending) {
  pending[j] = (nodes[j].child[0] >= 0 ? 1 : 0) + (nodes[j].child[1] >= 0 ? 1 : 0);
}

#if defined(__CUDA_ARCH__)
GM_HOST_DEVICE inline int gm_arrive(int32_t *counter) {
  __threadfence();
  return atomicSub(counter, 1) - 1;
}
#else
inline int gm_arrive(int32_t *counter) { return __atomic_sub_fetch(counter, 1, __ATOMIC_ACQ_REL); }
#endif

/* `words` 16-byte words between registers and node memory (both 16-byte aligned). A thread per node: field by field, a
 * warp's every store would touch 32 lines (ncu: 1.1 ms of L9's bottom-up pass). Bottom-up reads
 * what other blocks wrote, so on the GPU its loads go past the non-coherent L1 (__ldcg). */
GM_HOST_DEVICE inline void gm_store_words(void *dst, const void *src, int words) {
#if defined(__CUDA_ARCH__)
  for (int w = 0; w < words; w++) {
    reinterpret_cast<float4 *>(dst)[w] = reinterpret_cast<const float4 *>(src)[w];
  }
#else
  memcpy(dst, src, 16 * static_cast<size_t>(words));
#endif
}
GM_HOST_DEVICE inline void gm_load_shared_words(void *dst, const void *src, int words) {
#if defined(__CUDA_ARCH__)
  for (int w = 0; w < words; w++) {
    reinterpret_cast<float4 *>(dst)[w] = __ldcg(reinterpret_cast<const float4 *>(src) + w);
  }
#else
  memcpy(dst, src, 16 * static_cast<size_t>(words));
#endif
}

struct GmSubtree {
  float lo[3], hi[3];
  float area[3];   /* sum of area vectors */
  float moment[3]; /* sum of area · centroid */
  float weight;    /* sum of areas */
};

GM_HOST_DEVICE inline void gm_subtree_empty(GmSubtree &s) {
  for (int k = 0; k < 3; k++) {
    s.lo[k] = INFINITY, s.hi[k] = -INFINITY, s.area[k] = 0.0f, s.moment[k] = 0.0f;
  }
  s.weight = 0.0f;
}

GM_HOST_DEVICE inline void gm_subtree_add_triangle(GmSubtree &s, const GmBvhTriangle &t) {
  const float *v[3] = {t.a, t.b, t.c};
  for (int corner = 0; corner < 3; corner++) {
    for (int k = 0; k < 3; k++) {
      s.lo[k] = gm_min(s.lo[k], v[corner][k]);
      s.hi[k] = gm_max(s.hi[k], v[corner][k]);
    }
  }
  GmVec3<float> a = gm_load3<float>(t.a), b = gm_load3<float>(t.b), c = gm_load3<float>(t.c);
  GmVec3<float> n = gm_cross(b - a, c - a) * 0.5f;
  float area = gm_norm(n);
  GmVec3<float> centroid = (a + b + c) * (1.0f / 3.0f);
  s.area[0] += n.x, s.area[1] += n.y, s.area[2] += n.z;
  s.moment[0] += area * centroid.x, s.moment[1] += area * centroid.y,
      s.moment[2] += area * centroid.z;
  s.weight += area;
}

/* Node c's two children, read back as one subtree (box, area vector, moment and weight). */
GM_HOST_DEVICE inline void gm_subtree_of_node(GmSubtree &s, const GmBvhNode *nodes,
                                              const GmBvhWinding *winding, int32_t c) {
  alignas(16) float box[12];
  GmBvhWinding w;
  gm_load_shared_words(box, nodes[c].box, 3);
  gm_load_shared_words(&w, &winding[c], 4);
  for (int k = 0; k < 3; k++) {
    s.lo[k] = gm_min(box[k], box[6 + k]);
    s.hi[k] = gm_max(box[3 + k], box[9 + k]);
    s.area[k] = w.area[0][k] + w.area[1][k];
    s.moment[k] = w.centre[0][k] * w.weight[0] + w.centre[1][k] * w.weight[1];
  }
  s.weight = w.weight[0] + w.weight[1];
}

/* Fills node j's child boxes and dipoles from its leaves' triangles and its node children. */
GM_HOST_DEVICE inline void gm_finish_node(int32_t j, GmBvhNode *nodes, GmBvhWinding *winding,
                                          const GmBvhTriangle *tris) {
  alignas(16) float box[12];
  GmBvhWinding w;
  memset(&w, 0, sizeof w);
  for (int side = 0; side < 2; side++) {
    GmSubtree s;
    gm_subtree_empty(s);
    int32_t c = nodes[j].child[side];
    if (c < 0) {
      uint32_t first = static_cast<uint32_t>(~c), count = nodes[j].count[side];
      for (uint32_t t = 0; t < count; t++) gm_subtree_add_triangle(s, tris[first + t]);
    } else {
      gm_subtree_of_node(s, nodes, winding, c);
    }
    for (int k = 0; k < 3; k++) {
      box[6 * side + k] = s.lo[k];
      box[6 * side + 3 + k] = s.hi[k];
      w.area[side][k] = s.area[k];
      /* Zero area (degenerate triangles only): the box centre stands in for the centroid. */
      w.centre[side][k] = s.weight > 0.0f ? s.moment[k] / s.weight : 0.5f * (s.lo[k] + s.hi[k]);
    }
    w.weight[side] = s.weight;
  }
  gm_store_words(nodes[j].box, box, 3);
  gm_store_words(&winding[j], &w, 4);
}

/* Thread j of a bottom-up pass: starts at nodes with leaf children only, and climbs to a parent
 * once both of its node children are done (the second arrival climbs). */
GM_HOST_DEVICE inline void gm_step_bottom_up(int32_t j, GmBvhNode *nodes, GmBvhWinding *winding,
                                             const GmBvhTriangle *tris, const int32_t *parents,
                                             int32_t *pending) {
  /* With a node child, some other thread reaches j from below. */
  if (nodes[j].child[0] >= 0 || nodes[j].child[1] >= 0) return;
  for (int32_t node = j;;) {
    gm_finish_node(node, nodes, winding, tris);
    int32_t parent = parents[node];
    if (parent < 0) return;
    if (gm_arrive(&pending[parent]) != 0) return;
    node = parent;
  }
}

/* The unit normal of a triangle (zero for a zero-area one). */
GM_HOST_DEVICE inline GmVec3<float> gm_unit_normal(const GmBvhTriangle &t) {
  GmVec3<float> a = gm_load3<float>(t.a), b = gm_load3<float>(t.b), c = gm_load3<float>(t.c);
  GmVec3<float> n = gm_cross(b - a, c - a);
  float length = gm_norm(n);
  return length > 0.0f ? n * (1.0f / length) : gm_vec(0.0f, 0.0f, 0.0f);
}

/* The angle at corner p of the triangle p q r. */
GM_HOST_DEVICE inline float gm_corner_angle(GmVec3<float> p, GmVec3<float> q, GmVec3<float> r) {
  GmVec3<float> u = q - p, v = r - p;
  return atan2f(gm_norm(gm_cross(u, v)), gm_dot(u, v));
}

/* Triangle s's angle-weighted unit normal at each of its vertices, to add into `sums` (3 floats a
 * vertex) with `add` (an atomic add on the GPU). */
template <typename Add>
GM_HOST_DEVICE inline void gm_step_vertex_normals(uint64_t s, const GmBvhTriangle *tris,
                                                  const uint32_t *indices, float *sums, Add add) {
  const GmBvhTriangle &t = tris[s];
  GmVec3<float> n = gm_unit_normal(t);
  GmVec3<float> a = gm_load3<float>(t.a), b = gm_load3<float>(t.b), c = gm_load3<float>(t.c);
  float angle[3] = {gm_corner_angle(a, b, c), gm_corner_angle(b, c, a), gm_corner_angle(c, a, b)};
  for (int k = 0; k < 3; k++) {
    float *sum = sums + 3 * (uint64_t)indices[3 * s + k];
    add(sum, angle[k] * n.x), add(sum + 1, angle[k] * n.y), add(sum + 2, angle[k] * n.z);
  }
}

/* Edge k of triangle s as a key both of its triangles share: (smaller vertex, larger vertex). */
GM_HOST_DEVICE inline void gm_step_edge_keys(uint64_t s, const uint32_t *indices, uint64_t *keys,
                                             uint32_t *values) {
  for (int k = 0; k < 3; k++) {
    uint64_t p = indices[3 * s + k], q = indices[3 * s + (k + 1) % 3];
    keys[3 * s + k] = p < q ? (p << 32 | q) : (q << 32 | p);
    values[3 * s + k] = static_cast<uint32_t>(3 * s + k);
  }
}

/* At the start of each run of equal edge keys (sorted): the sum of the unit normals of the run's
 * triangles, written to each of them as that edge's pseudo-normal. */
GM_HOST_DEVICE inline void gm_step_edge_normals(uint64_t e, uint64_t edge_count,
                                                const uint64_t *keys, const uint32_t *values,
                                                const GmBvhTriangle *tris,
                                                GmBvhPseudoNormals *normals) {
  if (e > 0 && keys[e - 1] == keys[e]) return;
  uint64_t end = e;
  GmVec3<float> sum = gm_vec(0.0f, 0.0f, 0.0f);
  while (end < edge_count && keys[end] == keys[e]) sum = sum + gm_unit_normal(tris[values[end++] / 3]);
  for (uint64_t r = e; r < end; r++) {
    float *edge = normals[values[r] / 3].edge[values[r] % 3];
    edge[0] = sum.x, edge[1] = sum.y, edge[2] = sum.z;
  }
}

GM_HOST_DEVICE inline void gm_step_vertex_gather(uint64_t s, const uint32_t *indices,
                                                 const float *sums, GmBvhPseudoNormals *normals) {
  for (int k = 0; k < 3; k++) {
    const float *sum = sums + 3 * (uint64_t)indices[3 * s + k];
    normals[s].vertex[k][0] = sum[0], normals[s].vertex[k][1] = sum[1],
    normals[s].vertex[k][2] = sum[2];
  }
}

GM_HOST_DEVICE inline bool gm_bad_index(uint32_t index, uint64_t vertex_count) {
  return index >= vertex_count;
}

template <typename V>
GM_HOST_DEVICE inline bool gm_bad_value(V value) {
  return !isfinite(static_cast<double>(value));
}

#if defined(__CUDA_ARCH__)
/* The look before the atomic may read a stale value: a minimum only falls (a maximum only rises),
 * so a stale one costs at most an atomic that changes nothing, never a lost update. A plain L2
 * load, not a volatile one, so that a thread's six looks go out together (volatile loads issue
 * one after another: six round trips to L2 per ancestor). */
GM_HOST_DEVICE inline void gm_atomic_min_u32(uint32_t *p, uint32_t v) {
  if (v < __ldcg(p)) atomicMin(p, v);
}
GM_HOST_DEVICE inline void gm_atomic_max_u32(uint32_t *p, uint32_t v) {
  if (v > __ldcg(p)) atomicMax(p, v);
}
#else
inline void gm_atomic_min_u32(uint32_t *p, uint32_t v) {
  uint32_t seen = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (v < seen && !__atomic_compare_exchange_n(p, &seen, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}
inline void gm_atomic_max_u32(uint32_t *p, uint32_t v) {
  uint32_t seen = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (v > seen && !__atomic_compare_exchange_n(p, &seen, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}
#endif

/* Ordered-integer encoding of floats, so that unsigned min/max (atomics) order them as floats. */
GM_HOST_DEVICE inline uint32_t gm_order_float(float f) {
  uint32_t bits;
  memcpy(&bits, &f, 4);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}
GM_HOST_DEVICE inline float gm_unorder_float(uint32_t u) {
  uint32_t bits = (u & 0x80000000u) ? (u & 0x7FFFFFFFu) : ~u;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* An oriented box to and from node memory as three 16-byte words (a thread per node: field by
 * field, a warp's stores would touch 32 lines each; measured 1.1 ms for L9's init pass). */
GM_HOST_DEVICE inline void gm_store_oriented(GmBvhOrientedBox *dst, const GmBvhOrientedBox &b) {
#if defined(__CUDA_ARCH__)
  float4 *d = reinterpret_cast<float4 *>(dst);
  d[0] = make_float4(b.centre[0], b.centre[1], b.centre[2], b.normal[0]);
  d[1] = make_float4(b.normal[1], b.normal[2], b.lateral[0], b.lateral[1]);
  d[2] = make_float4(b.lateral[2], b.half[0], b.half[1], b.half[2]);
#else
  *dst = b;
#endif
}
GM_HOST_DEVICE inline GmBvhOrientedBox gm_load_oriented(const GmBvhOrientedBox *src) {
#if defined(__CUDA_ARCH__)
  const float4 *p = reinterpret_cast<const float4 *>(src);
  float4 w0 = p[0], w1 = p[1], w2 = p[2];
  GmBvhOrientedBox b;
  b.centre[0] = w0.x, b.centre[1] = w0.y, b.centre[2] = w0.z, b.normal[0] = w0.w;
  b.normal[1] = w1.x, b.normal[2] = w1.y, b.lateral[0] = w1.z, b.lateral[1] = w1.w;
  b.lateral[2] = w2.x, b.half[0] = w2.y, b.half[1] = w2.z, b.half[2] = w2.w;
  return b;
#else
  return *src;
#endif
}

/* Oriented boxes, pass 1, node j: each child's axes (its area vector, normalised, and the x or y
 * axis made perpendicular to it) and an empty interval along each, whose ends `centre` (minima)
 * and `half` (maxima) hold as ordered integers while triangles widen them. */
GM_HOST_DEVICE inline void gm_step_oriented_init(uint64_t j, const GmBvhWinding *winding,
                                                 GmBvhDistanceNode *distance_nodes) {
  for (int side = 0; side < 2; side++) {
    GmBvhOrientedBox b;
    GmVec3<float> a = gm_load3<float>(winding[j].area[side]);
    float length = gm_norm(a);
    GmVec3<float> n = length > 0.0f ? a * (1.0f / length) : gm_vec(0.0f, 0.0f, 1.0f);
    GmVec3<float> e = fabsf(n.x) < 0.8f ? gm_vec(1.0f, 0.0f, 0.0f) : gm_vec(0.0f, 1.0f, 0.0f);
    GmVec3<float> u = e - n * gm_dot(n, e);
    u = u * (1.0f / gm_norm(u));
    for (int k = 0; k < 3; k++) {
      b.normal[k] = (&n.x)[k], b.lateral[k] = (&u.x)[k];
      uint32_t lo = 0xFFFFFFFFu, hi = 0u;
      memcpy(&b.centre[k], &lo, 4);
      memcpy(&b.half[k], &hi, 4);
    }
    gm_store_oriented(&distance_nodes[j].box[side], b);
  }
}

/* The centre of child `side`'s axis-aligned box: what the oriented extents are measured from. */
GM_HOST_DEVICE inline GmVec3<float> gm_box_centre(const GmBvhNode &node, int side) {
  const float *box = node.box + 6 * side;
  return gm_vec(0.5f * (box[0] + box[3]), 0.5f * (box[1] + box[4]), 0.5f * (box[2] + box[5]));
}

/* Oriented boxes, pass 2, node j: each leaf of j widens the intervals of every ancestor child
 * holding it, up to the first with more than GM_ORIENTED_MAX_TRIANGLES (those keep their
 * axis-aligned box). One round of atomics per leaf and ancestor, not per triangle. */
GM_HOST_DEVICE inline void gm_step_oriented_widen(uint64_t j, const GmBvhNode *nodes,
                                                  GmBvhDistanceNode *distance_nodes,
                                                  const int32_t *parents,
                                                  const GmBvhTriangle *tris) {
  for (int leaf = 0; leaf < 2; leaf++) {
    if (nodes[j].child[leaf] >= 0) continue;
    uint32_t first = static_cast<uint32_t>(~nodes[j].child[leaf]), count = nodes[j].count[leaf];
    int32_t node = static_cast<int32_t>(j);
    int side = leaf;
    while (count > 0 && distance_nodes[node].size[side] <= GM_ORIENTED_MAX_TRIANGLES) {
      GmBvhOrientedBox &b = distance_nodes[node].box[side];
      GmVec3<float> n = gm_load3<float>(b.normal), u = gm_load3<float>(b.lateral);
      GmVec3<float> axes[3] = {n, u, gm_cross(n, u)};
      GmVec3<float> c0 = gm_box_centre(nodes[node], side);
      float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
      for (uint32_t t = first; t < first + count; t++) {
        const GmBvhTriangle &tri = tris[t];
        GmVec3<float> v[3] = {gm_load3<float>(tri.a), gm_load3<float>(tri.b),
                              gm_load3<float>(tri.c)};
        for (int corner = 0; corner < 3; corner++) {
          GmVec3<float> p = v[corner] - c0;
          for (int k = 0; k < 3; k++) {
            float d = gm_dot(axes[k], p);
            lo[k] = gm_min(lo[k], d), hi[k] = gm_max(hi[k], d);
          }
        }
      }
      for (int k = 0; k < 3; k++) {
        gm_atomic_min_u32(reinterpret_cast<uint32_t *>(&b.centre[k]), gm_order_float(lo[k]));
        gm_atomic_max_u32(reinterpret_cast<uint32_t *>(&b.half[k]), gm_order_float(hi[k]));
      }
      int32_t parent = parents[node];
      if (parent < 0) break;
      side = nodes[parent].child[0] == node ? 0 : 1;
      node = parent;
    }
  }
}

/* Oriented boxes, pass 3, node j: the intervals back to floats as a centre and half-extents,
 * widened by a few float32 steps of what they were computed from (a query's rounding must not
 * make the bound cut into a triangle); the axis-aligned box where the child is too big. */
GM_HOST_DEVICE inline void gm_step_oriented_finish(uint64_t j, const GmBvhNode *nodes,
                                                   GmBvhDistanceNode *distance_nodes) {
  const float eps = 4.0f * 1.1920929e-7f;
  for (int side = 0; side < 2; side++) {
    GmBvhOrientedBox b = gm_load_oriented(&distance_nodes[j].box[side]);
    const float *box = nodes[j].box + 6 * side;
    uint32_t size = distance_nodes[j].size[side];
    if (size == 0 || !(box[0] <= box[3])) { /* an empty leaf: nothing enters it */
      memset(&b, 0, sizeof b);
      b.normal[2] = 1.0f, b.lateral[0] = 1.0f;
      gm_store_oriented(&distance_nodes[j].box[side], b);
      continue;
    }
    /* The widened intervals (ordered integers until now; unwidened above the size limit). */
    float lo[3], hi[3];
    for (int k = 0; k < 3; k++) {
      uint32_t lo_bits, hi_bits;
      memcpy(&lo_bits, &b.centre[k], 4);
      memcpy(&hi_bits, &b.half[k], 4);
      lo[k] = gm_unorder_float(lo_bits), hi[k] = gm_unorder_float(hi_bits);
    }
    bool aligned = size > GM_ORIENTED_MAX_TRIANGLES;
    if (!aligned) {
      /* The axis-aligned box where it is the smaller (the oriented one is no tighter there). */
      float oriented = 1.0f, boxed = 1.0f;
      for (int k = 0; k < 3; k++) oriented *= hi[k] - lo[k], boxed *= box[3 + k] - box[k];
      aligned = boxed <= oriented;
    }
    if (aligned) {
      const int axis[3] = {2, 0, 1}; /* normal z, lateral x, then z × x = y */
      for (int k = 0; k < 3; k++) {
        float box_lo = box[axis[k]], box_hi = box[3 + axis[k]];
        b.normal[k] = k == 2 ? 1.0f : 0.0f, b.lateral[k] = k == 0 ? 1.0f : 0.0f;
        b.centre[axis[k]] = 0.5f * (box_lo + box_hi);
        b.half[k] = 0.5f * (box_hi - box_lo) + eps * gm_max(fabsf(box_lo), fabsf(box_hi));
      }
      gm_store_oriented(&distance_nodes[j].box[side], b);
      continue;
    }
    GmVec3<float> n = gm_load3<float>(b.normal), u = gm_load3<float>(b.lateral);
    GmVec3<float> axes[3] = {n, u, gm_cross(n, u)};
    GmVec3<float> c = gm_box_centre(nodes[j], side);
    float mid[3], half[3], reach = fabsf(c.x) + fabsf(c.y) + fabsf(c.z), extent = 0.0f;
    for (int k = 0; k < 3; k++) {
      mid[k] = 0.5f * (lo[k] + hi[k]), half[k] = 0.5f * (hi[k] - lo[k]);
      extent += gm_max(fabsf(lo[k]), fabsf(hi[k]));
      reach += fabsf(mid[k]);
    }
    c = c + axes[0] * mid[0] + axes[1] * mid[1] + axes[2] * mid[2];
    for (int k = 0; k < 3; k++) {
      b.centre[k] = (&c.x)[k];
      b.half[k] = half[k] + eps * (extent + reach);
    }
    gm_store_oriented(&distance_nodes[j].box[side], b);
  }
}

#endif
