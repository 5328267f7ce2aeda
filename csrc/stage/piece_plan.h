/* How a staged transfer is cut: pieces that grow and shrink (one DMA each), and slices of each
 * piece for the threads. Pure functions of the sizes. */
#ifndef GPUMEM_STAGE_PIECE_PLAN_H
#define GPUMEM_STAGE_PIECE_PLAN_H

#include <stdint.h>

#include <vector>

namespace gm_stage {

/* A piece's host copy is cut into slices of at least this many bytes, at most one per thread, so
 * that every thread copies part of each piece: a piece's copy takes a fraction of its DMA's time
 * and the last one, which nothing overlaps, is short. */
constexpr uint64_t kSliceBytes = 64 << 10;
constexpr uint64_t kPage = 4096;

/* Bytes [begin, end) of the transfer, part of `piece`, copied by one thread. */
struct Slice {
  uint64_t piece, begin, end;
};

/* Where each piece of a `bytes`-byte transfer starts (and, last, `bytes`); see piece_plan.cpp. */
std::vector<uint64_t> plan_pieces(uint64_t bytes, uint64_t first, uint64_t piece);
/* Cuts every piece into slices of whole pages, kSliceBytes or more, at most `threads`. */
std::vector<Slice> plan_slices(const std::vector<uint64_t> &starts, int threads);

}  // namespace gm_stage

#endif
