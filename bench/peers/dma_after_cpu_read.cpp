/* Why the stager flushes the staging lines a download read (bench/RESULTS.md, "Every thread copies
 * each piece"): the speed of a 2 MiB device-to-host DMA into a pinned slot that is idle, that one
 * core or twelve threads have just read (copied out), or that they have also flushed, demoted or
 * read with PREFETCHNTA; and the threads' copy-out rate each way. Pinned write-combined memory is
 * timed too (on the lent VMs it behaves as write-back).
 *
 *   g++ -O2 -std=c++17 -I/usr/local/cuda/include -o build/dma_after_cpu_read \
 *       bench/peers/dma_after_cpu_read.cpp -l:libcuda.so.1 -pthread && build/dma_after_cpu_read
 */
#include <cuda.h>
#include <immintrin.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <thread>
#include <vector>
#define CK(x) do { CUresult r = (x); if (r) { printf("%s failed %d\n", #x, r); exit(1); } } while (0)
static double now() { return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
__attribute__((target("sse4.1"))) static void copy_ntload(unsigned char *to, const unsigned char *from, size_t n) {
  for (size_t i = 0; i < n; i += 64) {
    __m128i a = _mm_stream_load_si128((__m128i *)(from + i)), b = _mm_stream_load_si128((__m128i *)(from + i + 16));
    __m128i c = _mm_stream_load_si128((__m128i *)(from + i + 32)), d = _mm_stream_load_si128((__m128i *)(from + i + 48));
    _mm_stream_si128((__m128i *)(to + i), a); _mm_stream_si128((__m128i *)(to + i + 16), b);
    _mm_stream_si128((__m128i *)(to + i + 32), c); _mm_stream_si128((__m128i *)(to + i + 48), d);
  }
  _mm_sfence();
}
static void copy_nt(unsigned char *to, const unsigned char *from, size_t n) {
  for (size_t i = 0; i < n; i += 64) {
    __m128i a = _mm_loadu_si128((__m128i *)(from + i)), b = _mm_loadu_si128((__m128i *)(from + i + 16));
    __m128i c = _mm_loadu_si128((__m128i *)(from + i + 32)), d = _mm_loadu_si128((__m128i *)(from + i + 48));
    _mm_stream_si128((__m128i *)(to + i), a); _mm_stream_si128((__m128i *)(to + i + 16), b);
    _mm_stream_si128((__m128i *)(to + i + 32), c); _mm_stream_si128((__m128i *)(to + i + 48), d);
  }
  _mm_sfence();
}
static void copy_nt_flush_each(unsigned char *to, const unsigned char *from, size_t n) {
  for (size_t i = 0; i < n; i += 64) {
    __m128i a = _mm_loadu_si128((__m128i *)(from + i)), b = _mm_loadu_si128((__m128i *)(from + i + 16));
    __m128i c = _mm_loadu_si128((__m128i *)(from + i + 32)), d = _mm_loadu_si128((__m128i *)(from + i + 48));
    asm volatile("clflushopt (%0)" ::"r"(from + i) : "memory");
    _mm_stream_si128((__m128i *)(to + i), a); _mm_stream_si128((__m128i *)(to + i + 16), b);
    _mm_stream_si128((__m128i *)(to + i + 32), c); _mm_stream_si128((__m128i *)(to + i + 48), d);
  }
  _mm_sfence();
}
static void copy_nt_pfnta(unsigned char *to, const unsigned char *from, size_t n) {
  for (size_t i = 0; i < n; i += 64) {
    _mm_prefetch((const char *)(from + i + 1024), _MM_HINT_NTA);
    __m128i a = _mm_loadu_si128((__m128i *)(from + i)), b = _mm_loadu_si128((__m128i *)(from + i + 16));
    __m128i c = _mm_loadu_si128((__m128i *)(from + i + 32)), d = _mm_loadu_si128((__m128i *)(from + i + 48));
    _mm_stream_si128((__m128i *)(to + i), a); _mm_stream_si128((__m128i *)(to + i + 16), b);
    _mm_stream_si128((__m128i *)(to + i + 32), c); _mm_stream_si128((__m128i *)(to + i + 48), d);
  }
  _mm_sfence();
}
static void demote(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i += 64) asm volatile("cldemote (%0)" ::"r"(p + i) : "memory");
}
static void evict(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i += 64) asm volatile("clflushopt (%0)" ::"r"(p + i) : "memory");
  _mm_sfence();
}
#include <atomic>
template <typename F> static double par(int threads, size_t bytes, F f) {
  // Threads start together on a flag; the time is first start to last end (no thread creation).
  std::atomic<bool> go{false};
  std::vector<double> starts(threads), ends(threads);
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; i++) ts.emplace_back([&, i] {
    size_t a = bytes * i / threads / 4096 * 4096, b = i + 1 == threads ? bytes : bytes * (i + 1) / threads / 4096 * 4096;
    while (!go.load()) {}
    starts[i] = now(); f(a, b - a); ends[i] = now(); });
  std::this_thread::sleep_for(std::chrono::microseconds(200));
  go.store(true);
  for (auto &t : ts) t.join();
  return *std::max_element(ends.begin(), ends.end()) - *std::min_element(starts.begin(), starts.end());
}
int main() {
  CK(cuInit(0)); CUdevice dev; CK(cuDeviceGet(&dev, 0)); CUcontext ctx; CK(cuDevicePrimaryCtxRetain(&ctx, dev)); CK(cuCtxSetCurrent(ctx));
  CUstream s; CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  const size_t piece = 2 << 20, slotBytes = 8 << 20;
  CUdeviceptr d; CK(cuMemAlloc(&d, 64 << 20));
  unsigned char *A, *W;
  CK(cuMemHostAlloc((void **)&A, slotBytes, CU_MEMHOSTALLOC_PORTABLE));
  CK(cuMemHostAlloc((void **)&W, slotBytes, CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_WRITECOMBINED));
  std::vector<unsigned char> dst(64 << 20, 1);
  memset(A, 2, slotBytes); memset(W, 3, slotBytes);
  auto median = [](std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; };
  auto dma = [&](unsigned char *slot, auto before) {
    std::vector<double> v;
    for (int r = 0; r < 40; r++) { before(); CK(cuStreamSynchronize(s)); double t = now(); CK(cuMemcpyDtoHAsync(slot, d, piece, s)); CK(cuStreamSynchronize(s)); v.push_back(now() - t); }
    return piece / median(v) / 1e3;
  };
  volatile unsigned sink = 0;
  auto readAll = [&](unsigned char *p) { unsigned x = 0; for (size_t i = 0; i < piece; i += 64) x += p[i]; sink = x; };
  auto readPar = [&](unsigned char *p) { par(12, piece, [&](size_t a, size_t n) { copy_nt(dst.data() + a, p + a, n); }); };
  printf("D2H 2 MiB DMA GB/s: idle slot %.1f\n", dma(A, [] {}));
  printf("  after one core read it %.1f\n", dma(A, [&] { readAll(A); }));
  printf("  after 12 threads copied it out %.1f\n", dma(A, [&] { readPar(A); }));
  printf("  after 12 threads copied it out + clflushopt %.1f\n", dma(A, [&] { readPar(A); par(12, piece, [&](size_t a, size_t n) { evict(A + a, n); }); }));
  auto variant = [&](const char *name, auto f) {
    double rate; { std::vector<double> v; for (int r = 0; r < 30; r++) { CK(cuMemcpyDtoHAsync(A, d, piece, s)); CK(cuStreamSynchronize(s)); v.push_back(par(12, piece, f)); } rate = piece / median(v) / 1e3; }
    double after = dma(A, [&] { par(12, piece, f); });
    printf("%-28s copy-out 12 threads %.1f GB/s, next DMA %.1f GB/s\n", name, rate, after);
  };
  for (int round = 0; round < 2; round++) {
    variant("plain", [&](size_t o, size_t n) { copy_nt(dst.data() + o, A + o, n); });
    variant("then clflushopt", [&](size_t o, size_t n) { copy_nt(dst.data() + o, A + o, n); evict(A + o, n); });
    variant("clflushopt each line", [&](size_t o, size_t n) { copy_nt_flush_each(dst.data() + o, A + o, n); });
    variant("then cldemote", [&](size_t o, size_t n) { copy_nt(dst.data() + o, A + o, n); demote(A + o, n); });
    variant("prefetchnta", [&](size_t o, size_t n) { copy_nt_pfnta(dst.data() + o, A + o, n); });
    variant("4 KiB copy then flush", [&](size_t o, size_t n) { for (size_t k = 0; k < n; k += 4096) { copy_nt(dst.data() + o + k, A + o + k, 4096); evict(A + o + k, 4096); } });
  }
  printf("cldemote: %s\n", system("grep -q cldemote /proc/cpuinfo") == 0 ? "yes" : "no");
  return 0;
}
