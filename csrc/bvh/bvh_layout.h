/* The mesh BVH's memory layout, shared by the CPU and CUDA builds and by ffi/kernels.ts.
 *
 * Coordinates are stored relative to the BVH's origin (a point of the mesh, kept in float64 on the
 * host), so that a mesh at x = 1e5 keeps float32's full precision near its surface.
 *
 * A binary tree whose nodes hold both children's boxes (one fetch tests two children), twice: as
 * axis-aligned boxes for rays and as oriented boxes for distances. A child is either another node
 * or a leaf: a run of `count` triangles, in BVH order, from `first`. */
#ifndef GPUMEM_BVH_LAYOUT_H
#define GPUMEM_BVH_LAYOUT_H

#include <stdint.h>

#include "../axpy.h" /* GM_HOST_DEVICE */

/* One node: 64 bytes, four 16-byte words fetched together: the children's boxes and references
 * (what rays, crossings and winding numbers read). */
struct alignas(16) GmBvhNode {
  float box[12];      /* child 0: lo xyz, hi xyz; child 1: lo xyz, hi xyz */
  int32_t child[2];   /* >= 0: node index; < 0: a leaf whose first triangle is ~child */
  uint32_t count[2];  /* triangles in a leaf child; 0 for a node child */
};
static_assert(sizeof(GmBvhNode) == 64, "ffi/kernels.ts and mesh_build.ts count 64-byte nodes");

/* A box oriented along a child's mean normal: a cap of a sphere or a patch of terrain is a thin
 * oriented box but a fat axis-aligned one, and the distance to it bounds the distance to the
 * triangles from below far more tightly, beside the surface as well as above it. Its axes are
 * `normal`, `lateral` and their cross product; `half` its half-extents along them. Children of
 * more than GM_ORIENTED_MAX_TRIANGLES triangles get their axis-aligned box instead. */
struct GmBvhOrientedBox {
  float centre[3];
  float normal[3];
  float lateral[3];
  float half[3];
};

/* Lower caps build faster but bound worse: L9's closest-point rate fell 22% at 1,024 and 49% at
 * 256 (bench/RESULTS.md). */
#define GM_ORIENTED_MAX_TRIANGLES 16384

/* The node as distance queries read it: 128 bytes, eight 16-byte words, its children's oriented
 * boxes and references. Node j of this array is node j of the GmBvhNode array. */
struct alignas(16) GmBvhDistanceNode {
  GmBvhOrientedBox box[2];
  int32_t child[2];
  uint32_t count[2];
  uint32_t size[2];  /* triangles under each child */
  uint32_t first[2]; /* the position of its first (a subtree's triangles are consecutive) */
};
static_assert(sizeof(GmBvhDistanceNode) == 128, "mesh_build.ts counts 128-byte distance nodes");

/* The nodes' memory holds node_count GmBvhNode, then, from the next multiple of 128 bytes (a node
 * per cache line), node_count GmBvhDistanceNode. */
GM_HOST_DEVICE inline uint64_t gm_distance_nodes_offset(uint64_t node_count) {
  return (node_count * sizeof(GmBvhNode) + 127) / 128 * 128;
}
GM_HOST_DEVICE inline uint64_t gm_nodes_bytes(uint64_t node_count) {
  return gm_distance_nodes_offset(node_count) + node_count * sizeof(GmBvhDistanceNode);
}
GM_HOST_DEVICE inline GmBvhDistanceNode *gm_distance_nodes(GmBvhNode *nodes, uint64_t node_count) {
  return reinterpret_cast<GmBvhDistanceNode *>(reinterpret_cast<char *>(nodes) +
                                               gm_distance_nodes_offset(node_count));
}
GM_HOST_DEVICE inline const GmBvhDistanceNode *gm_distance_nodes(const GmBvhNode *nodes,
                                                                 uint64_t node_count) {
  return gm_distance_nodes(const_cast<GmBvhNode *>(nodes), node_count);
}

/* One triangle in BVH order: 48 bytes, three 16-byte words; `id` is its index in the input. */
struct alignas(16) GmBvhTriangle {
  float a[3];
  int32_t id;
  float b[3];
  float unused_b;
  float c[3];
  float unused_c;
};

/* What the winding-number traversal needs of each child of a node: the sum of its triangles'
 * area vectors (½ (b−a)×(c−a)) and their area-weighted centroid, the dipole of Barill et al. */
struct alignas(16) GmBvhWinding {
  float area[2][3];   /* sum of area vectors */
  float centre[2][3]; /* area-weighted centroid */
  float weight[2];    /* sum of areas (what the centroid is weighted by) */
  float unused[2];
};

/* A triangle's angle-weighted pseudo-normals (Bærentzen & Aanæs): edges ab, bc, ca; vertices a, b,
 * c. With the face normal, these give the sign of a point's distance from its closest feature. */
struct GmBvhPseudoNormals {
  float edge[3][3];
  float vertex[3][3];
};


/* The descriptor the query entry points take (uint64_t words, ffi/kernels.ts writes it). */
enum gm_bvh_word {
  GM_BVH_NODES = 0,        /* address of the nodes (gm_nodes_bytes(node_count) bytes) */
  GM_BVH_TRIANGLES = 1,    /* address of triangle_count GmBvhTriangle */
  GM_BVH_WINDING = 2,      /* address of node_count GmBvhWinding */
  GM_BVH_NORMALS = 3,      /* address of triangle_count GmBvhPseudoNormals, or 0 */
  GM_BVH_NODE_COUNT = 4,
  GM_BVH_TRIANGLE_COUNT = 5,
  GM_BVH_WORDS = 6,
};

/* The frame the query entry points take (doubles): the origin, then the bounds relative to it. */
enum gm_bvh_frame {
  GM_FRAME_ORIGIN = 0, /* x y z */
  GM_FRAME_LO = 3,     /* x y z, relative to the origin */
  GM_FRAME_HI = 6,
  GM_FRAME_WORDS = 9,
};

/* How signed distances get their sign. */
enum gm_bvh_sign {
  GM_SIGN_NONE = 0,
  GM_SIGN_PSEUDONORMAL = 1,
  GM_SIGN_WINDING = 2,
  GM_SIGN_PARITY = 3,
};

/* Bits of a query's status word (device memory, or'ed by every query that hits one). */
enum gm_bvh_query_status {
  GM_QUERY_STACK_OVERFLOW = 1,
};

/* Traversal stack entries. A binary tree of n triangles built from 30-bit Morton codes with the
 * index as tie-break is at most 30 + ceil(log2 n) levels deep, and nearest-first traversal keeps
 * at most one entry per level; the rays' first pass (leaves put off) keeps up to two leaves more.
 * Meshes have fewer than 2^31 triangles (gm_bvh_build_scratch): at most 61 levels, so 64 holds
 * every tree (an overflow is still reported, GM_QUERY_STACK_OVERFLOW). An SAH tree (bvh_sah.h)
 * is at most GM_SAH_MAX_DEPTH + 13 levels deep. */
#define GM_BVH_STACK 64

/* Words of a validation report (gm_bvh_validate). */
enum gm_validate_word {
  GM_VALIDATE_BAD_INDICES = 0,    /* indices >= vertex_count */
  GM_VALIDATE_FIRST_BAD_INDEX = 1,/* position of the first, or UINT64_MAX */
  GM_VALIDATE_NONFINITE = 2,      /* NaN or infinite coordinates */
  GM_VALIDATE_FIRST_NONFINITE = 3,/* position of the first, or UINT64_MAX */
  GM_VALIDATE_WORDS = 4,
};

#endif
