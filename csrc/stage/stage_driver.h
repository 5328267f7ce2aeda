/* The CUDA driver as the stager sees it: the few types and entry points it calls, looked up with
 * dlsym in the library ffi/cuda.ts opened (no CUDA headers, so the CPU build compiles it too). */
#ifndef GPUMEM_STAGE_DRIVER_H
#define GPUMEM_STAGE_DRIVER_H

#include <dlfcn.h>
#include <stddef.h>

#include "../gpumem.h"
#include "../status.h"

namespace gm_stage {

/* The driver types this file needs, as the driver's ABI defines them (no CUDA headers). */
typedef int CUresult;
typedef void *CUcontext;
typedef void *CUstream;
typedef void *CUevent;
typedef unsigned long long CUdeviceptr;
const unsigned CU_EVENT_DISABLE_TIMING = 2;

/* The driver entry points a stager calls, looked up once in the library ffi/cuda.ts opened. */
struct Driver {
  void *library = nullptr;
  CUresult (*ctx_get_current)(CUcontext *) = nullptr;
  CUresult (*ctx_set_current)(CUcontext) = nullptr;
  CUresult (*memcpy_htod_async)(CUdeviceptr, const void *, size_t, CUstream) = nullptr;
  CUresult (*memcpy_dtoh_async)(void *, CUdeviceptr, size_t, CUstream) = nullptr;
  CUresult (*event_create)(CUevent *, unsigned) = nullptr;
  CUresult (*event_destroy)(CUevent) = nullptr;
  CUresult (*event_record)(CUevent, CUstream) = nullptr;
  CUresult (*event_synchronize)(CUevent) = nullptr;
  CUresult (*stream_synchronize)(CUstream) = nullptr;

  /* Looks every symbol up; false (with the thread's last error set) when one is missing. */
  bool open(const char *path) {
    library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      gm_fail(GM_INVALID_ARGUMENT, "dlopen(%s) failed: %s", path, dlerror());
      return false;
    }
    return bind(ctx_get_current, "cuCtxGetCurrent") && bind(ctx_set_current, "cuCtxSetCurrent") &&
           bind(memcpy_htod_async, "cuMemcpyHtoDAsync_v2") &&
           bind(memcpy_dtoh_async, "cuMemcpyDtoHAsync_v2") &&
           bind(event_create, "cuEventCreate") && bind(event_destroy, "cuEventDestroy_v2") &&
           bind(event_record, "cuEventRecord") && bind(event_synchronize, "cuEventSynchronize") &&
           bind(stream_synchronize, "cuStreamSynchronize");
  }

  template <typename F>
  bool bind(F &function, const char *name) {
    function = reinterpret_cast<F>(dlsym(library, name));
    if (function == nullptr) gm_fail(GM_INVALID_ARGUMENT, "the driver lacks %s", name);
    return function != nullptr;
  }

  ~Driver() {
    if (library != nullptr) dlclose(library);
  }
};

}  // namespace gm_stage

#endif
