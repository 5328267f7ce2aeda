/* gpumem kernel library: the C ABI that ffi/kernels.ts binds.
 *
 * Every entry point returns an int status (GM_OK or one of the codes below); on failure the
 * latest failure's string (gm_last_error, of any thread: a nonblocking call runs on a worker
 * thread) says what went wrong. Device addresses are
 * uint64_t; on the CPU build they are host addresses. CUDA entry points take the device ordinal
 * and make its primary context current themselves (restoring the caller's device after), because
 * Deno may call them from any thread. */
#ifndef GPUMEM_H
#define GPUMEM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gm_status {
  GM_OK = 0,
  GM_INVALID_ARGUMENT = 1,
  GM_CUDA_ERROR = 2,
  GM_INJECTED_FAULT = 3, /* a piece failed on purpose (gm_stager_run's fail_pieces) */
};

enum gm_backend {
  GM_BACKEND_CPU = 0,
  GM_BACKEND_CUDA = 1,
};

/* The ABI version: bumped on any incompatible change; ffi/kernels.ts checks it. */
#define GM_ABI_VERSION 8

int gm_abi_version(void);
/* GM_BACKEND_CPU or GM_BACKEND_CUDA: which build this library is. */
int gm_backend(void);
/* The calling thread's last error message ("" when none). Valid until the thread's next call. */
const char *gm_last_error(void);

/* y[i] = a * x[i] + y[i] for i < n, float32. Ordered on `stream` (a CUstream; NULL for the legacy
 * default stream) and asynchronous on the CUDA build; done on return on the CPU build. */
int gm_axpy_f32(int device, uint64_t n, float a, uint64_t x, uint64_t y, void *stream);

/* Advances n particles (positions and velocities: float32 xyz triples at those addresses) by
 * `substeps` steps of `dt` seconds from `time` (csrc/sim/particles.h: three circling gravity
 * wells, damping, walls at +-1). Ordered on `stream` on the CUDA build; done on return on the
 * CPU build. */
int gm_particles_step(int device, uint64_t n, uint64_t positions, uint64_t velocities, float dt,
                      int substeps, float time, void *stream);

/* Staged copies (csrc/staged_copy.h says how). Creates a stager in *out (an opaque handle) whose
 * transfers run on `threads` threads: the caller's and threads - 1 of its own, which poll for
 * `spin_us` microseconds after a transfer before they sleep. `driver_library`: the path of the
 * CUDA driver library to call, with `context` the CUcontext its threads use; NULL for a
 * host-only stager (the cpu device). */
int gm_stager_create(const char *driver_library, void *context, int threads, int spin_us,
                     uint64_t *out);
/* Stops the threads and frees the stager; no transfer may be running. */
int gm_stager_destroy(uint64_t stager);
/* Moves `bytes` between pageable `host` memory and `device` in pieces through pinned staging
 * slots (`slots`: the addresses gm_stage_plan counts, each as large as it says), queuing the
 * DMAs on `stream`; to_device: 1 host to device, 0 device to host. Pieces grow from
 * `first_piece` bytes to `piece`; every thread copies a slice of each piece. Returns once every
 * piece is done, or after a failure once nothing it queued still runs; `report` (4 uint64_t,
 * struct gm_stage_report) says how far it got and what failed. `fail_pieces` (NULL, or one byte
 * per piece) makes the marked pieces fail, for tests. One run at a time per stager. */
int gm_stager_run(uint64_t stager, int to_device, void *host, uint64_t device, uint64_t bytes,
                  uint64_t first_piece, uint64_t piece, const uint64_t *slots, void *stream,
                  const uint8_t *fail_pieces, uint64_t *report);
/* How gm_stager_run cuts `bytes`: plan[0] pieces, plan[1] staging slots it needs, plan[2] bytes
 * each slot must hold (the largest piece). */
int gm_stage_plan(uint64_t bytes, uint64_t first_piece, uint64_t piece, uint64_t *plan);

/* Mesh BVH (csrc/bvh/; layouts in bvh/bvh_layout.h). Addresses are device addresses (host
 * addresses on the CPU build); `origin` and `frame` are host arrays of doubles, `bvh` a host
 * array of GM_BVH_WORDS uint64_t. Work is ordered on `stream` on the CUDA build and done on
 * return on the CPU build. A build is: gm_bvh_build_tree (bounds, Morton codes, sort, triangles
 * in BVH order, hierarchy; writes the node count as a uint32_t at node_count_out), then, with
 * that many nodes allocated (gm_nodes_bytes), gm_bvh_build_nodes (nodes, parents, boxes, winding
 * dipoles, oriented boxes). */

/* Counts out-of-range indices and non-finite coordinates into `report` (GM_VALIDATE_WORDS
 * uint64_t). */
int gm_bvh_validate(int device, uint64_t vertices, uint64_t vertex_count, int vertex_f64,
                    uint64_t triangles, uint64_t triangle_count, uint64_t report, void *stream);
/* Scratch bytes a build of `triangle_count` triangles needs. */
int gm_bvh_build_scratch(uint64_t triangle_count, uint64_t *bytes);
int gm_bvh_build_tree(int device, uint64_t vertices, uint64_t vertex_count, int vertex_f64,
                      uint64_t triangles, uint64_t triangle_count, const double *origin,
                      uint32_t leaf_size, uint64_t scratch, uint64_t scratch_bytes,
                      uint64_t tris_out, uint64_t indices_out, uint64_t node_count_out,
                      void *stream);
int gm_bvh_build_nodes(int device, uint64_t triangle_count, uint32_t leaf_size, uint64_t scratch,
                       uint64_t scratch_bytes, uint64_t nodes_out, uint64_t winding_out,
                       uint64_t parents_out, uint64_t node_count, uint64_t tris,
                       void *stream);
/* New vertex positions for the same triangles: triangles regathered, boxes and dipoles redone
 * bottom-up. `pending`: node_count int32_t of scratch. */
int gm_bvh_refit(int device, uint64_t vertices, int vertex_f64, const double *origin,
                 const uint64_t *bvh, uint64_t indices, uint64_t parents, uint64_t pending,
                 void *stream);
/* Scratch bytes, and the pass, for the angle-weighted pseudo-normals of every triangle. */
int gm_bvh_normals_scratch(uint64_t triangle_count, uint64_t vertex_count, uint64_t *bytes);
int gm_bvh_normals(int device, uint64_t tris, uint64_t indices, uint64_t triangle_count,
                   uint64_t vertex_count, uint64_t scratch, uint64_t scratch_bytes,
                   uint64_t normals_out, void *stream);
/* Scratch bytes a query of `count` points (rays 0) or rays (rays 1) needs: deferred queries, and
 * for enough points their space-filling-curve order (rays keep their input order). */
int gm_bvh_query_scratch(uint64_t count, int rays, uint64_t *bytes);
/* Closest points (sign_mode GM_SIGN_NONE) or signed distances within `limit`. Outputs (float
 * distance, int32_t input face, float xyz point, float uvw barycentric) may be 0; `status`: a
 * uint32_t the queries or GM_QUERY_* bits into. */
int gm_bvh_closest(int device, const uint64_t *bvh, const double *frame, uint64_t points,
                   int points_f64, uint64_t count, float limit, int sign_mode, uint64_t distance,
                   uint64_t face, uint64_t point, uint64_t bary, uint64_t scratch,
                   uint64_t scratch_bytes, uint64_t status, void *stream);
/* Nearest (or, with any_hit, any) ray hits within t_max: float t, int32_t face, float uvw. */
int gm_bvh_ray(int device, const uint64_t *bvh, const double *frame, uint64_t origins,
               uint64_t directions, int f64, uint64_t count, float t_max, int any_hit,
               uint64_t t_out, uint64_t face, uint64_t bary, uint64_t scratch,
               uint64_t scratch_bytes, uint64_t status, void *stream);

/* Point clouds (csrc/knn/; layouts in knn/point_index.h). An index is: gm_points_frame (bounds
 * and non-finite count, into a 64-byte GmPointFrame), gm_points_order (Morton order of the
 * input: order_out the input indices sorted, the sorted codes left in the scratch, *nonfinite
 * the coordinates not finite as float offsets from the frame's centre), gm_points_leaves (the
 * leaves, counted into a uint32_t at count_out), then, with the index allocated for that many
 * leaves, gm_points_index (sorted points, leaf starts, the tree's boxes) from the same scratch.
 * Queries order themselves with gm_points_order in the index's frame. */

/* Sizes for n points in `leaves` leaves: plan[0] index bytes, plan[1] gm_points_order scratch
 * bytes, plan[2] the tree's leaf base, plan[3], plan[4] and plan[5] the offsets of the leaf
 * starts, the tree's boxes and the leaves' first codes in the index. */
int gm_points_plan(uint64_t n, uint64_t leaves, uint64_t *plan);
int gm_points_frame(int device, uint64_t points, uint64_t n, int f64, uint64_t frame,
                    void *stream);
int gm_points_order(int device, uint64_t points, uint64_t n, int f64, uint64_t frame,
                    uint64_t scratch, uint64_t scratch_bytes, uint64_t order_out,
                    uint64_t nonfinite, void *stream);
int gm_points_leaves(int device, uint64_t n, uint64_t scratch, uint64_t scratch_bytes,
                     uint64_t count_out, void *stream);
int gm_points_index(int device, uint64_t points, uint64_t n, int f64, uint64_t frame,
                    uint64_t order, uint64_t scratch, uint64_t scratch_bytes, uint64_t leaves,
                    uint64_t index, void *stream);
/* The float offsets of n points (float64 when f64) from the centre of `frame`, into 3 * n floats
 * at `out`: a chunk of a cloud too large to upload whole. gm_points_order and gm_points_index
 * take them with f64 = 2 (GM_POINTS_CENTRED) and build the index they would build from the
 * coordinates. */
int gm_points_offsets(int device, uint64_t points, uint64_t n, int f64, uint64_t frame,
                      uint64_t out, void *stream);
/* The k nearest (within sqrt(radius2), inclusive) of each query, ties by the smaller index.
 * `index`: GM_POINT_WORDS uint64_t. queries 0: self queries over the index's points, answered
 * for input indices in [out_begin, out_end) at index - out_begin; otherwise `count` queries in
 * `order`, answered at their own index (out_begin 0, out_end count). Outputs (each may be 0):
 * int32_t indices and float distances (count x k, padded with -1 and Infinity), int32_t counts,
 * float features (GM_FEATURE_FLOATS x (out_end - out_begin), knn/point_index.h). */
int gm_points_query(int device, const uint64_t *index, uint64_t queries, int f64, uint64_t count,
                    uint64_t order, uint32_t k, float radius2, int flags, uint64_t out_begin,
                    uint64_t out_end, uint64_t indices, uint64_t distances, uint64_t counts,
                    uint64_t features, void *stream);

/* Brute-force L2 for vectors of `dim` floats or doubles (csrc/knn/l2_steps.h). centre: 0, or
 * `dim` doubles (gm_vectors_centre: the corpus's column means) subtracted from float64 inputs
 * before they are rounded to float. */
int gm_vectors_centre(int device, uint64_t corpus, uint64_t n, uint32_t dim, int f64,
                      uint64_t centre, void *stream);
/* out[i * ld + j] = the distance (squared: its square) of query i to corpus row j, in
 * `precision` (enum gm_precision in knn/l2_tensor.h: exact float differences, or the expansion on
 * tensor cores with tf32, bf16 or fp16 inputs). */
int gm_l2_tile(int device, uint64_t queries, uint64_t q_count, uint64_t corpus, uint64_t n_count,
               uint32_t dim, int f64, uint64_t centre, int squared, int precision, uint64_t out,
               uint64_t ld, void *stream);
/* Folds a tile of squared distances (q_count rows of n_count, corpus indices from corpus_base)
 * into each row's k best (best_d squared floats and best_i int32_t, q_count x k, ascending by
 * distance then index); flags: enum gm_select_flag. */
int gm_knn_select(int device, uint64_t tile, uint64_t ld, uint64_t q_count, uint64_t n_count,
                  uint64_t corpus_base, uint64_t query_base, uint32_t k, int flags,
                  uint64_t best_d, uint64_t best_i, void *stream);

#ifdef __cplusplus
}
#endif

#endif
