/* The CUDA build of the kernel library. Uses the CUDA runtime on each device's primary context,
 * the same context gpumem's driver binding retains, so addresses from either side are valid in
 * both. */
#include "axpy.h"
#include "cuda_scope.h"

namespace {

__global__ void axpy_kernel(uint64_t n, float a, const float *x, float *y) {
  for (uint64_t i = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<uint64_t>(gridDim.x) * blockDim.x) {
    y[i] = gm_axpy_element(a, x[i], y[i]);
  }
}

}  // namespace

extern "C" int gm_backend(void) { return GM_BACKEND_CUDA; }

extern "C" int gm_axpy_f32(int device, uint64_t n, float a, uint64_t x, uint64_t y, void *stream) {
  if (n == 0) return gm_ok();
  if (x == 0 || y == 0) return gm_fail(GM_INVALID_ARGUMENT, "gm_axpy_f32: null address");
  GM_CUDA_SCOPE(device);
  const unsigned threads = 256;
  const uint64_t wanted = (n + threads - 1) / threads;
  const unsigned blocks = static_cast<unsigned>(wanted < 65535 ? wanted : 65535);
  axpy_kernel<<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(
      n, a, reinterpret_cast<const float *>(x), reinterpret_cast<float *>(y));
  cudaError_t launch = cudaGetLastError();
  if (launch != cudaSuccess) return gm_cuda_failure("axpy_kernel launch", launch);
  return gm_ok();
}
