/*
 * The reference for gpumem's pinned transfers: the same copies from C, straight on the driver.
 * For each size, pinned host memory (cuMemHostAlloc) to device and back with cuMemcpyHtoD_v2 /
 * cuMemcpyDtoH_v2 followed by cuCtxSynchronize, timed with CLOCK_MONOTONIC: three warm-up copies,
 * then the median of the repetitions bench/transfer_bench.ts uses. Prints one JSON object:
 *   {"device": "...", "h2d": {"<bytes>": GB/s, ...}, "d2h": {...}}
 *
 *   nvcc -O2 -o build/pinned_bandwidth bench/peers/pinned_bandwidth.c -l:libcuda.so.1
 */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(call)                                                              \
  do {                                                                           \
    CUresult status_ = (call);                                                   \
    if (status_ != CUDA_SUCCESS) {                                               \
      const char *name_ = "?";                                                   \
      cuGetErrorName(status_, &name_);                                           \
      fprintf(stderr, "%s failed: %s (line %d)\n", #call, name_, __LINE__);      \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Same rule as bench/transfer_bench.ts: fewer repetitions for larger copies. */
static int repetitions(size_t bytes) {
  return bytes <= (64u << 20) ? 40 : bytes <= (256u << 20) ? 10 : 5;
}

static double median_gbps(int h2d, CUdeviceptr device, void *host, size_t bytes) {
  int reps = repetitions(bytes);
  double seconds[64];
  for (int i = -3; i < reps; i++) {
    double start = now();
    if (h2d) CHECK(cuMemcpyHtoD_v2(device, host, bytes));
    else CHECK(cuMemcpyDtoH_v2(host, device, bytes));
    CHECK(cuCtxSynchronize());
    if (i >= 0) seconds[i] = now() - start;
  }
  qsort(seconds, reps, sizeof(double), by_value);
  double mid = reps % 2 ? seconds[reps / 2] : (seconds[reps / 2 - 1] + seconds[reps / 2]) / 2;
  return bytes / mid / 1e9;
}

int main(void) {
  static const size_t sizes[] = {4u << 20, 16u << 20, 64u << 20, 256u << 20, 1024u << 20};
  const int count = sizeof(sizes) / sizeof(sizes[0]);
  CUdevice dev;
  CUcontext ctx;
  char name[256];
  CHECK(cuInit(0));
  CHECK(cuDeviceGet(&dev, 0));
  CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
  CHECK(cuCtxSetCurrent(ctx));
  CHECK(cuDeviceGetName(name, sizeof(name), dev));
  size_t largest = sizes[count - 1];
  CUdeviceptr device;
  void *host;
  CHECK(cuMemAlloc_v2(&device, largest));
  CHECK(cuMemHostAlloc(&host, largest, CU_MEMHOSTALLOC_PORTABLE));
  for (size_t i = 0; i < largest; i += 4096) ((char *)host)[i] = (char)i;
  printf("{\"device\": \"%s\"", name);
  for (int h2d = 1; h2d >= 0; h2d--) {
    printf(", \"%s\": {", h2d ? "h2d" : "d2h");
    for (int i = 0; i < count; i++) {
      printf("%s\"%zu\": %.2f", i ? ", " : "", sizes[i], median_gbps(h2d, device, host, sizes[i]));
    }
    printf("}");
  }
  printf("}\n");
  CHECK(cuMemFreeHost(host));
  CHECK(cuMemFree_v2(device));
  CHECK(cuDevicePrimaryCtxRelease_v2(dev));
  return 0;
}
