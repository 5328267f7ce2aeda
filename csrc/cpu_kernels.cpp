/* The CPU build of the kernel library: same entry points, host addresses, done on return. */
#include <cstddef>

#include "axpy.h"
#include "status.h"

extern "C" int gm_backend(void) { return GM_BACKEND_CPU; }

extern "C" int gm_axpy_f32(int /*device*/, uint64_t n, float a, uint64_t x, uint64_t y,
                           void * /*stream*/) {
  if (n == 0) return gm_ok();
  if (x == 0 || y == 0) return gm_fail(GM_INVALID_ARGUMENT, "gm_axpy_f32: null address");
  const float *xs = reinterpret_cast<const float *>(x);
  float *ys = reinterpret_cast<float *>(y);
  for (uint64_t i = 0; i < n; ++i) ys[i] = gm_axpy_element(a, xs[i], ys[i]);
  return gm_ok();
}
