/* The CUDA build of the kernel library. Uses the CUDA runtime on each device's primary context,
 * the same context gpumem's driver binding retains, so addresses from either side are valid in
 * both. */
#include <cuda_runtime.h>

#include "axpy.h"
#include "status.h"

namespace {

/* Makes `device` current for the scope and restores the caller's device after, since Deno may
 * call in on a thread whose current context JavaScript relies on. */
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    status_ = cudaGetDevice(&previous_);
    if (status_ == cudaSuccess && previous_ != device) status_ = cudaSetDevice(device);
    switched_ = status_ == cudaSuccess && previous_ != device;
  }
  ~DeviceScope() {
    if (switched_) cudaSetDevice(previous_);
  }
  cudaError_t status() const { return status_; }

 private:
  int previous_ = 0;
  bool switched_ = false;
  cudaError_t status_;
};

int cuda_failure(const char *call, cudaError_t error) {
  return gm_fail(GM_CUDA_ERROR, "%s: %s (%s)", call, cudaGetErrorName(error), cudaGetErrorString(error));
}

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
  DeviceScope scope(device);
  if (scope.status() != cudaSuccess) return cuda_failure("cudaSetDevice", scope.status());
  const unsigned threads = 256;
  const uint64_t wanted = (n + threads - 1) / threads;
  const unsigned blocks = static_cast<unsigned>(wanted < 65535 ? wanted : 65535);
  axpy_kernel<<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(
      n, a, reinterpret_cast<const float *>(x), reinterpret_cast<float *>(y));
  cudaError_t launch = cudaGetLastError();
  if (launch != cudaSuccess) return cuda_failure("axpy_kernel launch", launch);
  return gm_ok();
}
