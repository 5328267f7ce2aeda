/* The steps of a BVH build, one element at a time. The CUDA build runs each as a kernel over its
 * elements and the CPU build as a parallel loop, so both make the same tree:
 *
 *   triangle bounds -> Morton codes -> sort -> gather triangles in code order -> Karras hierarchy
 *   (Karras 2012) -> keep the nodes with more than leaf_size triangles (scan) -> emit them with
 *   leaf runs -> boxes and winding dipoles bottom-up (also a refit) -> oriented boxes.
 *
 * Small meshes take bvh_sah.h's hierarchy in place of the first five steps. */
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
    dn.first[side] = (c & GM_LEAF_BIT) ? (c & ~GM_LEAF_BIT) : karras[c].first;
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

/* `words` 16-byte words between registers and node memory (both 16-byte aligned). A thread per
 * node: field by field, a warp's every store would touch 32 lines (ncu: 1.1 ms of L9's bottom-up
 * pass). Bottom-up reads what other blocks wrote, so on the GPU its loads go past the
 * non-coherent L1 (__ldcg). */
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

/* An oriented box into node memory as three 16-byte words (gm_store_words). */
GM_HOST_DEVICE inline void gm_store_oriented(GmBvhOrientedBox *dst, const GmBvhOrientedBox &b) {
  struct alignas(16) Words {
    GmBvhOrientedBox box;
  } words = {b};
  gm_store_words(dst, &words, 3);
}

/* The axes of child `side`'s oriented box: its area vector, normalised, then the x or y axis made
 * perpendicular to it, then their cross product. */
GM_HOST_DEVICE inline void gm_oriented_axes(const GmBvhWinding &w, int side,
                                            GmVec3<float> axes[3]) {
  GmVec3<float> a = gm_load3<float>(w.area[side]);
  float length = gm_norm(a);
  GmVec3<float> n = length > 0.0f ? a * (1.0f / length) : gm_vec(0.0f, 0.0f, 1.0f);
  GmVec3<float> e = fabsf(n.x) < 0.8f ? gm_vec(1.0f, 0.0f, 0.0f) : gm_vec(0.0f, 1.0f, 0.0f);
  GmVec3<float> u = e - n * gm_dot(n, e);
  u = u * (1.0f / gm_norm(u));
  axes[0] = n, axes[1] = u, axes[2] = gm_cross(n, u);
}

/* The centre of child `side`'s axis-aligned box: what the oriented extents are measured from. */
GM_HOST_DEVICE inline GmVec3<float> gm_box_centre(const GmBvhNode &node, int side) {
  const float *box = node.box + 6 * side;
  return gm_vec(0.5f * (box[0] + box[3]), 0.5f * (box[1] + box[4]), 0.5f * (box[2] + box[5]));
}

/* Widens the extents [lo, hi] along `axes` (measured from `c0`) to hold triangle t. */
GM_HOST_DEVICE inline void gm_oriented_extend(const GmBvhTriangle &t, const GmVec3<float> axes[3],
                                              GmVec3<float> c0, float lo[3], float hi[3]) {
  const float *v[3] = {t.a, t.b, t.c};
  for (int corner = 0; corner < 3; corner++) {
    GmVec3<float> p = gm_load3<float>(v[corner]) - c0;
    for (int k = 0; k < 3; k++) {
      float d = gm_dot(axes[k], p);
      lo[k] = gm_min(lo[k], d), hi[k] = gm_max(hi[k], d);
    }
  }
}

/* Whether child `side` of `dn` gets an oriented box, whose extents its triangles give: not when
 * it is empty or holds more than GM_ORIENTED_MAX_TRIANGLES. */
GM_HOST_DEVICE inline bool gm_oriented_wanted(const GmBvhDistanceNode &dn, int side) {
  return dn.size[side] > 0 && dn.size[side] <= GM_ORIENTED_MAX_TRIANGLES;
}

/* Child `side`'s box from its extents [lo, hi] along `axes` (when gm_oriented_wanted), as a centre
 * and half-extents widened by a few float32 steps of what they were computed from (a query's
 * rounding must not make the bound cut into a triangle); its axis-aligned box where that is the
 * smaller or it is too big; nothing for an empty leaf. */
GM_HOST_DEVICE inline GmBvhOrientedBox gm_oriented_box(const GmBvhNode &node,
                                                       const GmBvhDistanceNode &dn, int side,
                                                       const GmVec3<float> axes[3],
                                                       const float lo[3], const float hi[3]) {
  const float eps = 4.0f * 1.1920929e-7f;
  const float *box = node.box + 6 * side;
  GmBvhOrientedBox b;
  if (dn.size[side] == 0 || !(box[0] <= box[3])) { /* an empty leaf: nothing enters it */
    memset(&b, 0, sizeof b);
    b.normal[2] = 1.0f, b.lateral[0] = 1.0f;
    return b;
  }
  bool aligned = !gm_oriented_wanted(dn, side);
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
    return b;
  }
  GmVec3<float> c = gm_box_centre(node, side);
  float mid[3], half[3], reach = fabsf(c.x) + fabsf(c.y) + fabsf(c.z), extent = 0.0f;
  for (int k = 0; k < 3; k++) {
    mid[k] = 0.5f * (lo[k] + hi[k]), half[k] = 0.5f * (hi[k] - lo[k]);
    extent += gm_max(fabsf(lo[k]), fabsf(hi[k]));
    reach += fabsf(mid[k]);
  }
  c = c + axes[0] * mid[0] + axes[1] * mid[1] + axes[2] * mid[2];
  for (int k = 0; k < 3; k++) {
    b.normal[k] = (&axes[0].x)[k], b.lateral[k] = (&axes[1].x)[k];
    b.centre[k] = (&c.x)[k];
    b.half[k] = half[k] + eps * (extent + reach);
  }
  return b;
}

/* Oriented boxes, node j, one thread: each child's extents from its triangles, which are
 * consecutive (first[side], size[side]), after the boxes and dipoles are done. The CUDA build
 * gives each node a warp instead (bvh_cuda.cu). */
GM_HOST_DEVICE inline void gm_step_oriented(uint64_t j, const GmBvhNode *nodes,
                                            const GmBvhWinding *winding,
                                            GmBvhDistanceNode *distance_nodes,
                                            const GmBvhTriangle *tris) {
  GmBvhDistanceNode &dn = distance_nodes[j];
  for (int side = 0; side < 2; side++) {
    GmVec3<float> axes[3];
    gm_oriented_axes(winding[j], side, axes);
    GmVec3<float> c0 = gm_box_centre(nodes[j], side);
    float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    if (gm_oriented_wanted(dn, side)) {
      for (uint32_t t = dn.first[side]; t < dn.first[side] + dn.size[side]; t++) {
        gm_oriented_extend(tris[t], axes, c0, lo, hi);
      }
    }
    gm_store_oriented(&dn.box[side], gm_oriented_box(nodes[j], dn, side, axes, lo, hi));
  }
}

#endif
