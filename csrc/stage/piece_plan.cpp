/* How a staged transfer is cut (piece_plan.h). */
#include "piece_plan.h"

#include <algorithm>

namespace gm_stage {

/* Where each piece of a `bytes`-byte transfer starts (and, last, `bytes`). The pieces grow from
 * `first` bytes, each twice the last, up to `piece`, and shrink the same way towards the end:
 * the first DMA starts (upload) or lands (download) early, the last piece's host copy or DMA,
 * which nothing overlaps, is short, and the large ones between keep the copy engine's per-copy
 * cost (~2.5 us on an H100) small. */
std::vector<uint64_t> plan_pieces(uint64_t bytes, uint64_t first, uint64_t piece) {
  std::vector<uint64_t> head, tail;  // piece sizes from the front, and from the back
  uint64_t size = first < piece ? first : piece;
  for (uint64_t left = bytes; left > 0;) {
    for (std::vector<uint64_t> *end : {&head, &tail}) {
      uint64_t take = size < left ? size : left;
      if (take == 0) break;
      end->push_back(take);
      left -= take;
    }
    size = 2 * size < piece ? 2 * size : piece;
  }
  std::vector<uint64_t> starts{0};
  head.insert(head.end(), tail.rbegin(), tail.rend());
  for (uint64_t length : head) starts.push_back(starts.back() + length);
  return starts;
}

/* Cuts every piece into slices of whole pages, kSliceBytes or more, at most `threads`. */
std::vector<Slice> plan_slices(const std::vector<uint64_t> &starts, int threads) {
  std::vector<Slice> slices;
  for (uint64_t piece = 0; piece + 1 < starts.size(); piece++) {
    uint64_t begin = starts[piece], length = starts[piece + 1] - begin;
    uint64_t count = std::min<uint64_t>((length + kSliceBytes - 1) / kSliceBytes, threads);
    for (uint64_t i = 0; i < count; i++) {
      uint64_t end = i + 1 == count ? length : length * (i + 1) / count / kPage * kPage;
      slices.push_back({piece, begin + length * i / count / kPage * kPage, begin + end});
    }
  }
  return slices;
}

}  // namespace gm_stage
