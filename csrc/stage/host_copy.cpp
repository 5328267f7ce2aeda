/* The stager's host-side copies (host_copy.h). */
#include "host_copy.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <emmintrin.h>
#endif

namespace gm_stage {

namespace {

/* Whether the CPU has CLFLUSHOPT (CPUID leaf 7, EBX bit 23). */
bool has_clflushopt() {
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & (1u << 23)) != 0;
#else
  return false;
#endif
}

}  // namespace

/* Copies `bytes` with non-temporal stores where the CPU has them (SSE2, every x86-64), so the
 * written lines go to memory instead of staying dirty in the copying core's cache. Measured on
 * the H100 host: the copy engine reading lines dirty in other cores' caches is slow (a 4 MiB
 * array the workers had just downloaded into, registered, uploaded at 26-33 GB/s instead of
 * 49), which an upload's slots would otherwise always be; and a copy that does not read the
 * destination first moves ~20% more a core (9.6 -> 11.5 GB/s). */
void copy_streaming(unsigned char *to, const unsigned char *from, size_t bytes) {
#if defined(__x86_64__)
  if (bytes >= 4096) {
    size_t head = (16 - (reinterpret_cast<uintptr_t>(to) & 15)) & 15;
    std::memcpy(to, from, head);
    to += head, from += head, bytes -= head;
    size_t body = bytes & ~size_t(63);
    for (size_t at = 0; at < body; at += 64) {
      const __m128i *source = reinterpret_cast<const __m128i *>(from + at);
      __m128i a = _mm_loadu_si128(source), b = _mm_loadu_si128(source + 1);
      __m128i c = _mm_loadu_si128(source + 2), d = _mm_loadu_si128(source + 3);
      __m128i *target = reinterpret_cast<__m128i *>(to + at);
      _mm_stream_si128(target, a), _mm_stream_si128(target + 1, b);
      _mm_stream_si128(target + 2, c), _mm_stream_si128(target + 3, d);
    }
    _mm_sfence();  // the stores are visible before the DMA is queued or the piece counted done
    to += body, from += body, bytes -= body;
  }
#endif
  std::memcpy(to, from, bytes);
}

/* Drops the cache lines of `bytes` at `at` from every core's caches. A download's threads read
 * each staging slot, which leaves its lines in their caches, and the copy engine writes lines
 * held there slowly: on an H200 host a 2 MiB DMA into a slot ran at 47 GB/s idle, 25 after one
 * core had read the slot, 8-9 after twelve threads had copied it out, and 42-44 when they had
 * also flushed it (bench/peers/dma_after_cpu_read.cpp). Flushing halves the threads' copy-out
 * rate (85-105 -> 31-34 GB/s), but staged downloads went from 19-23 to 24-44 GB/s. */
void evict(const unsigned char *at, size_t bytes) {
#if defined(__x86_64__)
  static const bool optimized = has_clflushopt();
  const uintptr_t end = reinterpret_cast<uintptr_t>(at) + bytes;
  uintptr_t line = reinterpret_cast<uintptr_t>(at) & ~uintptr_t(63);
  if (optimized) {
    for (; line < end; line += 64) asm volatile("clflushopt (%0)" ::"r"(line) : "memory");
  } else {
    for (; line < end; line += 64) _mm_clflush(reinterpret_cast<const void *>(line));
  }
  _mm_sfence();
#else
  (void)at, (void)bytes;
#endif
}

}  // namespace gm_stage
