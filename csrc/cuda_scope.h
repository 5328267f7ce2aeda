/* Device scoping and error reporting for the CUDA build's entry points. */
#ifndef GPUMEM_CUDA_SCOPE_H
#define GPUMEM_CUDA_SCOPE_H

#include <cuda_runtime.h>

#include "status.h"

/* Makes `device` current for the scope and restores the caller's device after, since Deno may
 * call in on a thread whose current context JavaScript relies on. */
class GmDeviceScope {
 public:
  explicit GmDeviceScope(int device) {
    status_ = cudaGetDevice(&previous_);
    if (status_ == cudaSuccess && previous_ != device) status_ = cudaSetDevice(device);
    switched_ = status_ == cudaSuccess && previous_ != device;
  }
  ~GmDeviceScope() {
    if (switched_) cudaSetDevice(previous_);
  }
  GmDeviceScope(const GmDeviceScope &) = delete;
  GmDeviceScope &operator=(const GmDeviceScope &) = delete;
  cudaError_t status() const { return status_; }

 private:
  int previous_ = 0;
  bool switched_ = false;
  cudaError_t status_;
};

/* Records a CUDA runtime failure as the thread's last error. */
inline int gm_cuda_failure(const char *call, cudaError_t error) {
  return gm_fail(GM_CUDA_ERROR, "%s: %s (%s)", call, cudaGetErrorName(error),
                 cudaGetErrorString(error));
}

/* Opens a GmDeviceScope for the rest of the block, returning the failure if it could not. */
#define GM_CUDA_SCOPE(device)                                                        \
  GmDeviceScope gm_device_scope_(device);                                            \
  if (gm_device_scope_.status() != cudaSuccess) {                                    \
    return gm_cuda_failure("cudaSetDevice", gm_device_scope_.status());              \
  }

#endif
