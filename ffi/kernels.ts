/**
 * The compiled kernel library (csrc/) as one declarative `Deno.dlopen` table. The CPU and CUDA
 * builds export the same symbols; csrc/gpumem.h is the C side of this table.
 *
 * @module
 */

/** The parameters of gm_stager_run, bound twice (on a worker thread, and on the caller's). */
const stagerRunParameters = [
  "u64", /* uint64_t stager */
  "i32", /* int to_device: 1 host to device, 0 device to host */
  "buffer", /* void *host: the pageable bytes */
  "u64", /* uint64_t device: device address (a host address on the cpu device) */
  "u64", /* uint64_t bytes */
  "u64", /* uint64_t first_piece: bytes of the first piece */
  "u64", /* uint64_t piece: bytes of the largest piece (the staging slots' size) */
  "buffer", /* const uint64_t *slots: pinned staging addresses, as gm_stage_plan says */
  "pointer", /* void *stream: CUstream the DMAs go to (NULL when host-only) */
  "buffer", /* const uint8_t *fail_pieces: NULL, or one byte per piece (nonzero: fails) */
  "buffer", /* uint64_t *report: struct gm_stage_report (4 uint64_t) */
] as const;

/*
 * The mesh BVH's entry points (csrc/bvh/, declared in csrc/gpumem.h) are each bound twice: as is,
 * for CUDA devices, where a call only queues work; and as `<name>_async` on a worker thread, for
 * the cpu device, where the call does the work (the event loop runs on meanwhile).
 */
/** The parameters of gm_bvh_validate: int gm_bvh_validate(int device, vertices, vertex_count, vertex_f64, triangles, triangle_count, report, stream) */
const bvhValidateParameters = [
  "i32", /* int device */
  "u64", /* uint64_t vertices: 3 * vertex_count floats or doubles */
  "u64", /* uint64_t vertex_count */
  "i32", /* int vertex_f64 */
  "u64", /* uint64_t triangles: 3 * triangle_count uint32_t */
  "u64", /* uint64_t triangle_count */
  "u64", /* uint64_t report: GM_VALIDATE_WORDS uint64_t */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_bvh_build_tree: int gm_bvh_build_tree(...): bounds, codes, sort, triangles in BVH order, hierarchy */
const bvhBuildTreeParameters = [
  "i32", /* int device */
  "u64", /* uint64_t vertices */
  "u64", /* uint64_t vertex_count */
  "i32", /* int vertex_f64 */
  "u64", /* uint64_t triangles */
  "u64", /* uint64_t triangle_count */
  "buffer", /* const double *origin: 3 doubles */
  "u32", /* uint32_t leaf_size */
  "u64", /* uint64_t scratch */
  "u64", /* uint64_t scratch_bytes */
  "u64", /* uint64_t tris_out: triangle_count GmBvhTriangle */
  "u64", /* uint64_t indices_out: 3 * triangle_count uint32_t */
  "u64", /* uint64_t node_count_out: one uint32_t */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_bvh_build_nodes: int gm_bvh_build_nodes(...): nodes, parents, boxes and dipoles */
const bvhBuildNodesParameters = [
  "i32", /* int device */
  "u64", /* uint64_t triangle_count */
  "u32", /* uint32_t leaf_size */
  "u64", /* uint64_t scratch: as gm_bvh_build_tree left it */
  "u64", /* uint64_t scratch_bytes */
  "u64", /* uint64_t nodes_out: gm_nodes_bytes(node_count): GmBvhNode, then GmBvhDistanceNode */
  "u64", /* uint64_t winding_out: node_count GmBvhWinding */
  "u64", /* uint64_t parents_out: node_count int32_t */
  "u64", /* uint64_t node_count */
  "u64", /* uint64_t tris */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_bvh_refit: int gm_bvh_refit(device, vertices, vertex_f64, origin, bvh, indices, parents, pending, stream) */
const bvhRefitParameters = [
  "i32", /* int device */
  "u64", /* uint64_t vertices */
  "i32", /* int vertex_f64 */
  "buffer", /* const double *origin */
  "buffer", /* const uint64_t *bvh: GM_BVH_WORDS */
  "u64", /* uint64_t indices */
  "u64", /* uint64_t parents */
  "u64", /* uint64_t pending: node_count int32_t of scratch */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_bvh_normals: int gm_bvh_normals(device, tris, indices, triangle_count, vertex_count, scratch, scratch_bytes, normals_out, stream) */
const bvhNormalsParameters = [
  "i32", /* int device */
  "u64", /* uint64_t tris */
  "u64", /* uint64_t indices */
  "u64", /* uint64_t triangle_count */
  "u64", /* uint64_t vertex_count */
  "u64", /* uint64_t scratch */
  "u64", /* uint64_t scratch_bytes */
  "u64", /* uint64_t normals_out: triangle_count GmBvhPseudoNormals */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_bvh_closest: int gm_bvh_closest(...): closest points or signed distances */
const bvhClosestParameters = [
  "i32", /* int device */
  "buffer", /* const uint64_t *bvh: GM_BVH_WORDS */
  "buffer", /* const double *frame: GM_FRAME_WORDS */
  "u64", /* uint64_t points: 3 * count floats or doubles */
  "i32", /* int points_f64 */
  "u64", /* uint64_t count */
  "f32", /* float limit: largest distance searched */
  "i32", /* int sign_mode: enum gm_bvh_sign */
  "u64", /* uint64_t distance: count floats, or 0 */
  "u64", /* uint64_t face: count int32_t, or 0 */
  "u64", /* uint64_t point: 3 * count floats, or 0 */
  "u64", /* uint64_t bary: 3 * count floats, or 0 */
  "u64", /* uint64_t scratch */
  "u64", /* uint64_t scratch_bytes */
  "u64", /* uint64_t status: one uint32_t */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_bvh_ray: int gm_bvh_ray(...): nearest or any ray hits */
const bvhRayParameters = [
  "i32", /* int device */
  "buffer", /* const uint64_t *bvh */
  "buffer", /* const double *frame */
  "u64", /* uint64_t origins */
  "u64", /* uint64_t directions */
  "i32", /* int f64 */
  "u64", /* uint64_t count */
  "f32", /* float t_max */
  "i32", /* int any_hit */
  "u64", /* uint64_t t_out: count floats, or 0 */
  "u64", /* uint64_t face: count int32_t, or 0 */
  "u64", /* uint64_t bary: 3 * count floats, or 0 */
  "u64", /* uint64_t scratch */
  "u64", /* uint64_t scratch_bytes */
  "u64", /* uint64_t status */
  "pointer", /* void *stream */
] as const;

/*
 * Point clouds and vectors (csrc/knn/, declared in csrc/gpumem.h): bound both ways as the BVH's.
 */
/** The parameters of gm_points_frame: int gm_points_frame(device, points, n, f64, frame, stream) */
const pointsFrameParameters = [
  "i32", /* int device */
  "u64", /* uint64_t points: 3 * n floats or doubles */
  "u64", /* uint64_t n */
  "i32", /* int f64 */
  "u64", /* uint64_t frame: a GmPointFrame (64 bytes) */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_points_offsets: float offsets from a frame's centre */
const pointsOffsetsParameters = [
  "i32", /* int device */
  "u64", /* uint64_t points: 3 * n floats or doubles */
  "u64", /* uint64_t n */
  "i32", /* int f64 */
  "u64", /* uint64_t frame: a complete GmPointFrame */
  "u64", /* uint64_t out: 3 * n floats */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_points_order: Morton order of points in a frame's grid */
const pointsOrderParameters = [
  "i32", /* int device */
  "u64", /* uint64_t points */
  "u64", /* uint64_t n */
  "i32", /* int f64: 0 float, 1 double, 2 float offsets from the frame's centre */
  "u64", /* uint64_t frame */
  "u64", /* uint64_t scratch */
  "u64", /* uint64_t scratch_bytes */
  "u64", /* uint64_t order_out: n uint32_t */
  "u64", /* uint64_t nonfinite: one uint64_t */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_points_leaves: int gm_points_leaves(device, n, scratch, scratch_bytes, count_out, stream) */
const pointsLeavesParameters = [
  "i32", /* int device */
  "u64", /* uint64_t n */
  "u64", /* uint64_t scratch: as gm_points_order left it */
  "u64", /* uint64_t scratch_bytes */
  "u64", /* uint64_t count_out: one uint32_t */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_points_index: sorted points, leaf starts and the tree's boxes */
const pointsIndexParameters = [
  "i32", /* int device */
  "u64", /* uint64_t points */
  "u64", /* uint64_t n */
  "i32", /* int f64: 0 float, 1 double, 2 float offsets from the frame's centre */
  "u64", /* uint64_t frame */
  "u64", /* uint64_t order */
  "u64", /* uint64_t scratch: as gm_points_leaves left it */
  "u64", /* uint64_t scratch_bytes */
  "u64", /* uint64_t leaves */
  "u64", /* uint64_t index: gm_points_plan's plan[0] bytes */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_points_query: k nearest (within a radius), counts, features */
const pointsQueryParameters = [
  "i32", /* int device */
  "buffer", /* const uint64_t *index: GM_POINT_WORDS */
  "u64", /* uint64_t queries: 0 for self queries */
  "i32", /* int f64 */
  "u64", /* uint64_t count */
  "u64", /* uint64_t order: the queries' order, 0 for self queries */
  "u32", /* uint32_t k */
  "f32", /* float radius2 */
  "i32", /* int flags: enum gm_point_query_flag */
  "u64", /* uint64_t out_begin */
  "u64", /* uint64_t out_end */
  "u64", /* uint64_t indices: count x k int32_t, or 0 */
  "u64", /* uint64_t distances: count x k floats, or 0 */
  "u64", /* uint64_t counts: count int32_t, or 0 */
  "u64", /* uint64_t features: GM_FEATURE_FLOATS x (out_end - out_begin) floats, or 0 */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_vectors_centre: int gm_vectors_centre(device, corpus, n, dim, f64, centre, stream) */
const vectorsCentreParameters = [
  "i32", /* int device */
  "u64", /* uint64_t corpus: n x dim floats or doubles */
  "u64", /* uint64_t n */
  "u32", /* uint32_t dim */
  "i32", /* int f64 */
  "u64", /* uint64_t centre: dim doubles */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_l2_tile: a block of distances */
const l2TileParameters = [
  "i32", /* int device */
  "u64", /* uint64_t queries */
  "u64", /* uint64_t q_count */
  "u64", /* uint64_t corpus */
  "u64", /* uint64_t n_count */
  "u32", /* uint32_t dim */
  "i32", /* int f64 */
  "u64", /* uint64_t centre: dim doubles, or 0 */
  "i32", /* int squared */
  "i32", /* int precision: enum gm_precision */
  "u64", /* uint64_t out */
  "u64", /* uint64_t ld: floats between rows of out */
  "pointer", /* void *stream */
] as const;

/** The parameters of gm_knn_select: a tile folded into each row's k best */
const knnSelectParameters = [
  "i32", /* int device */
  "u64", /* uint64_t tile */
  "u64", /* uint64_t ld */
  "u64", /* uint64_t q_count */
  "u64", /* uint64_t n_count */
  "u64", /* uint64_t corpus_base */
  "u64", /* uint64_t query_base */
  "u32", /* uint32_t k */
  "i32", /* int flags: enum gm_select_flag */
  "u64", /* uint64_t best_d */
  "u64", /* uint64_t best_i */
  "pointer", /* void *stream */
] as const;

/** Symbol table for libgpumem_kernels_{cpu,cuda}.so. */
export const kernelSymbols = {
  /** int gm_abi_version(void) */
  gm_abi_version: { parameters: [], result: "i32" },
  /** int gm_backend(void): 0 for the CPU build, 1 for the CUDA build */
  gm_backend: { parameters: [], result: "i32" },
  /** const char *gm_last_error(void): the latest failure's message, of any thread */
  gm_last_error: { parameters: [], result: "pointer" },
  /** int gm_axpy_f32(int device, uint64_t n, float a, uint64_t x, uint64_t y, void *stream) */
  gm_axpy_f32: {
    parameters: [
      "i32", /* int device: CUDA ordinal (ignored by the CPU build) */
      "u64", /* uint64_t n: elements */
      "f32", /* float a */
      "u64", /* uint64_t x: address of n floats */
      "u64", /* uint64_t y: address of n floats, updated in place */
      "pointer", /* void *stream: CUstream, NULL for the legacy default stream */
    ],
    result: "i32",
  },
  /** int gm_particles_step(int device, uint64_t n, uint64_t positions, uint64_t velocities, float dt, int substeps, float time, void *stream) */
  gm_particles_step: {
    parameters: [
      "i32", /* int device */
      "u64", /* uint64_t n: particles */
      "u64", /* uint64_t positions: n xyz float triples, updated in place */
      "u64", /* uint64_t velocities: n xyz float triples, updated in place */
      "f32", /* float dt: seconds a substep */
      "i32", /* int substeps */
      "f32", /* float time: the wells' clock at the first substep */
      "pointer", /* void *stream */
    ],
    result: "i32",
  },
  /** int gm_stager_create(const char *driver_library, void *context, int threads, int spin_us, uint64_t *out) */
  gm_stager_create: {
    parameters: [
      "buffer", /* const char *driver_library: NUL-terminated path; NULL for a host-only stager */
      "pointer", /* void *context: CUcontext the stager's threads use (NULL when host-only) */
      "i32", /* int threads: workers per transfer, the caller's thread included */
      "i32", /* int spin_us: how long idle threads poll for the next transfer before sleeping */
      "buffer", /* uint64_t *out: the stager's handle */
    ],
    result: "i32",
  },
  /** int gm_stager_destroy(uint64_t stager) */
  gm_stager_destroy: { parameters: ["u64" /* uint64_t stager */], result: "i32" },
  /**
   * int gm_stager_run(uint64_t stager, int to_device, void *host, uint64_t device, uint64_t bytes,
   * uint64_t first_piece, uint64_t piece, const uint64_t *slots, void *stream,
   * const uint8_t *fail_pieces, uint64_t *report), on a worker thread (a Promise). Failures are
   * read from `report`, which says which piece failed and how.
   */
  gm_stager_run: { parameters: stagerRunParameters, result: "i32", nonblocking: true },
  /** gm_stager_run on the calling thread: a worker-thread hop costs more than a small transfer. */
  gm_stager_run_here: { name: "gm_stager_run", parameters: stagerRunParameters, result: "i32" },
  /** int gm_stage_plan(uint64_t bytes, uint64_t first_piece, uint64_t piece, uint64_t *plan) */
  gm_stage_plan: {
    parameters: [
      "u64", /* uint64_t bytes */
      "u64", /* uint64_t first_piece */
      "u64", /* uint64_t piece */
      "buffer", /* uint64_t *plan: pieces, staging slots, bytes per slot */
    ],
    result: "i32",
  },
  /** int gm_bvh_build_scratch(uint64_t triangle_count, uint64_t *bytes) */
  gm_bvh_build_scratch: { parameters: ["u64", "buffer"], result: "i32" },
  /** int gm_bvh_normals_scratch(uint64_t triangle_count, uint64_t vertex_count, uint64_t *bytes) */
  gm_bvh_normals_scratch: { parameters: ["u64", "u64", "buffer"], result: "i32" },
  /** int gm_bvh_query_scratch(uint64_t count, int rays, uint64_t *bytes) */
  gm_bvh_query_scratch: { parameters: ["u64", "i32", "buffer"], result: "i32" },
  /** int gm_bvh_validate(int device, vertices, vertex_count, vertex_f64, triangles, triangle_count, report, stream) */
  gm_bvh_validate: { parameters: bvhValidateParameters, result: "i32" },
  /** gm_bvh_validate on a worker thread (the cpu device). */
  gm_bvh_validate_async: {
    name: "gm_bvh_validate",
    parameters: bvhValidateParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_bvh_build_tree(...): bounds, codes, sort, triangles in BVH order, hierarchy */
  gm_bvh_build_tree: { parameters: bvhBuildTreeParameters, result: "i32" },
  /** gm_bvh_build_tree on a worker thread (the cpu device). */
  gm_bvh_build_tree_async: {
    name: "gm_bvh_build_tree",
    parameters: bvhBuildTreeParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_bvh_build_nodes(...): nodes, parents, boxes and dipoles */
  gm_bvh_build_nodes: { parameters: bvhBuildNodesParameters, result: "i32" },
  /** gm_bvh_build_nodes on a worker thread (the cpu device). */
  gm_bvh_build_nodes_async: {
    name: "gm_bvh_build_nodes",
    parameters: bvhBuildNodesParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_bvh_refit(device, vertices, vertex_f64, origin, bvh, indices, parents, pending, stream) */
  gm_bvh_refit: { parameters: bvhRefitParameters, result: "i32" },
  /** gm_bvh_refit on a worker thread (the cpu device). */
  gm_bvh_refit_async: {
    name: "gm_bvh_refit",
    parameters: bvhRefitParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_bvh_normals(device, tris, indices, triangle_count, vertex_count, scratch, scratch_bytes, normals_out, stream) */
  gm_bvh_normals: { parameters: bvhNormalsParameters, result: "i32" },
  /** gm_bvh_normals on a worker thread (the cpu device). */
  gm_bvh_normals_async: {
    name: "gm_bvh_normals",
    parameters: bvhNormalsParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_bvh_closest(...): closest points or signed distances */
  gm_bvh_closest: { parameters: bvhClosestParameters, result: "i32" },
  /** gm_bvh_closest on a worker thread (the cpu device). */
  gm_bvh_closest_async: {
    name: "gm_bvh_closest",
    parameters: bvhClosestParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_bvh_ray(...): nearest or any ray hits */
  gm_bvh_ray: { parameters: bvhRayParameters, result: "i32" },
  /** gm_bvh_ray on a worker thread (the cpu device). */
  gm_bvh_ray_async: {
    name: "gm_bvh_ray",
    parameters: bvhRayParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_points_plan(uint64_t n, uint64_t leaves, uint64_t *plan): index bytes, order scratch, leaf base, offsets */
  gm_points_plan: { parameters: ["u64", "u64", "buffer"], result: "i32" },
  /** int gm_points_frame(...): bounds and non-finite count of a cloud */
  gm_points_frame: { parameters: pointsFrameParameters, result: "i32" },
  /** gm_points_frame on a worker thread (the cpu device). */
  gm_points_frame_async: {
    name: "gm_points_frame",
    parameters: pointsFrameParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_points_offsets(...): a chunk's float offsets from the frame's centre */
  gm_points_offsets: { parameters: pointsOffsetsParameters, result: "i32" },
  /** gm_points_offsets on a worker thread (the cpu device). */
  gm_points_offsets_async: {
    name: "gm_points_offsets",
    parameters: pointsOffsetsParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_points_order(...): Morton order of points */
  gm_points_order: { parameters: pointsOrderParameters, result: "i32" },
  /** gm_points_order on a worker thread (the cpu device). */
  gm_points_order_async: {
    name: "gm_points_order",
    parameters: pointsOrderParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_points_leaves(...): the leaves of the sorted points */
  gm_points_leaves: { parameters: pointsLeavesParameters, result: "i32" },
  /** gm_points_leaves on a worker thread (the cpu device). */
  gm_points_leaves_async: {
    name: "gm_points_leaves",
    parameters: pointsLeavesParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_points_index(...): sorted points and tree boxes */
  gm_points_index: { parameters: pointsIndexParameters, result: "i32" },
  /** gm_points_index on a worker thread (the cpu device). */
  gm_points_index_async: {
    name: "gm_points_index",
    parameters: pointsIndexParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_points_query(...): k nearest, radius, features */
  gm_points_query: { parameters: pointsQueryParameters, result: "i32" },
  /** gm_points_query on a worker thread (the cpu device). */
  gm_points_query_async: {
    name: "gm_points_query",
    parameters: pointsQueryParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_vectors_centre(...): column means of a corpus */
  gm_vectors_centre: { parameters: vectorsCentreParameters, result: "i32" },
  /** gm_vectors_centre on a worker thread (the cpu device). */
  gm_vectors_centre_async: {
    name: "gm_vectors_centre",
    parameters: vectorsCentreParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_l2_tile(...): a block of L2 distances */
  gm_l2_tile: { parameters: l2TileParameters, result: "i32" },
  /** gm_l2_tile on a worker thread (the cpu device). */
  gm_l2_tile_async: {
    name: "gm_l2_tile",
    parameters: l2TileParameters,
    result: "i32",
    nonblocking: true,
  },
  /** int gm_knn_select(...): a tile folded into k best lists */
  gm_knn_select: { parameters: knnSelectParameters, result: "i32" },
  /** gm_knn_select on a worker thread (the cpu device). */
  gm_knn_select_async: {
    name: "gm_knn_select",
    parameters: knnSelectParameters,
    result: "i32",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened kernel library's symbols. */
export type KernelSymbols = Deno.DynamicLibrary<typeof kernelSymbols>["symbols"];

/** The ABI version this table matches (GM_ABI_VERSION in csrc/gpumem.h). */
export const KERNEL_ABI_VERSION = 8;

/** Status codes of the kernel library (enum gm_status in csrc/gpumem.h). */
export const KernelStatus = {
  OK: 0,
  INVALID_ARGUMENT: 1,
  CUDA_ERROR: 2,
  INJECTED_FAULT: 3,
} as const;

/** Words of struct gm_stage_report (csrc/staged_copy.h), in its order. */
export const STAGE_REPORT = {
  piecesDone: 0,
  failedPiece: 1,
  cudaResult: 2,
  call: 3,
} as const;

/** GM_STAGE_CALLS (csrc/staged_copy.h), in its order: the driver call a failed staged copy names. */
export const STAGE_CALL_NAMES: readonly string[] = [
  "",
  "cuCtxSetCurrent",
  "cuMemcpyHtoDAsync_v2",
  "cuMemcpyDtoHAsync_v2",
  "cuEventCreate",
  "cuEventRecord",
  "cuEventSynchronize",
];
