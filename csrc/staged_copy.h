/* Staged copies of pageable host memory: a pool of host threads that copy a transfer, piece by
 * piece, into a ring of pinned staging slots (host to device) or out of it (device to host)
 * while the DMAs of other pieces run. Every thread copies a slice of each piece, so a piece's
 * host copy is short and the copy engine is rarely left waiting.
 *
 * Part of both builds of the kernel library; csrc/gpumem.h declares the entry points. The CUDA
 * driver is reached through dlopen (the library ffi/cuda.ts opened, so the same driver instance
 * and contexts), which keeps this file free of CUDA headers. A stager created without a driver
 * library runs on host memory alone: "device" addresses are host addresses and each piece's DMA
 * is a memcpy, so the cpu device exercises the same scheduling.
 *
 * staged_copy.cpp holds the thread pool, the slot protocol and the C ABI; stage/ the parts it
 * uses: host_copy (streaming stores, cache eviction), piece_plan (how a transfer is cut) and
 * stage_driver.h (the driver entry points, looked up with dlsym). */
#ifndef GPUMEM_STAGED_COPY_H
#define GPUMEM_STAGED_COPY_H

#include <stdint.h>

/* Driver calls a stager makes, numbered for gm_stage_report.call in this order: declared once
 * here, read name by name by ffi/kernels.ts's STAGE_CALL_NAMES (tests/abi.test.ts checks). */
#define GM_STAGE_CALLS(X)                                  \
  X(GM_CALL_NONE, "")                                      \
  X(GM_CALL_CTX_SET_CURRENT, "cuCtxSetCurrent")            \
  X(GM_CALL_MEMCPY_HTOD_ASYNC, "cuMemcpyHtoDAsync_v2")     \
  X(GM_CALL_MEMCPY_DTOH_ASYNC, "cuMemcpyDtoHAsync_v2")     \
  X(GM_CALL_EVENT_CREATE, "cuEventCreate")                 \
  X(GM_CALL_EVENT_RECORD, "cuEventRecord")                 \
  X(GM_CALL_EVENT_SYNCHRONIZE, "cuEventSynchronize")

#define GM_STAGE_CALL_ENUM(name, symbol) name,
enum gm_stage_call { GM_STAGE_CALLS(GM_STAGE_CALL_ENUM) };
#undef GM_STAGE_CALL_ENUM

/* What a failed gm_stager_run reports (ffi/kernels.ts reads it as a BigUint64Array of 4, by the
 * word names of STAGE_REPORT there, in this order). */
struct gm_stage_report {
  uint64_t pieces_done; /* pieces whose copy finished */
  uint64_t failed_piece; /* the first piece that failed (UINT64_MAX when none) */
  uint64_t cuda_result; /* the failing driver call's CUresult (0 for an injected fault) */
  uint64_t call; /* enum gm_stage_call of the failing driver call */
};

#endif
