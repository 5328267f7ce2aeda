/* A parallel loop for the CPU build: [0, n) cut into one contiguous range per thread. Threads
 * are started per call (tens of microseconds), so small loops run on the calling thread. */
#ifndef GPUMEM_PARALLEL_FOR_H
#define GPUMEM_PARALLEL_FOR_H

#include <stdint.h>

#include <thread>
#include <vector>

/* Elements below which a loop is not worth a thread. */
#define GM_PARALLEL_GRAIN 16384

/* Threads the CPU build uses: the machine's cores, at most 64. */
inline unsigned gm_cpu_threads() {
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : (cores > 64 ? 64 : cores);
}

/* Calls body(begin, end, worker) on disjoint ranges covering [0, n), in parallel. */
template <typename Body>
void gm_parallel_ranges(uint64_t n, Body body) {
  uint64_t wanted = n / GM_PARALLEL_GRAIN + 1;
  unsigned threads = gm_cpu_threads();
  if (wanted < threads) threads = static_cast<unsigned>(wanted);
  if (threads <= 1) {
    body(uint64_t(0), n, 0u);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  uint64_t step = (n + threads - 1) / threads;
  for (unsigned t = 1; t < threads; t++) {
    uint64_t begin = t * step, end = begin + step < n ? begin + step : n;
    if (begin >= end) break;
    pool.emplace_back([=] { body(begin, end, t); });
  }
  body(uint64_t(0), step < n ? step : n, 0u);
  for (std::thread &thread : pool) thread.join();
}

/* Calls f(i) for every i in [0, n), in parallel. */
template <typename F>
void gm_parallel_for(uint64_t n, F f) {
  gm_parallel_ranges(n, [&](uint64_t begin, uint64_t end, unsigned) {
    for (uint64_t i = begin; i < end; i++) f(i);
  });
}

#endif
