/**
 * The CUDA driver API (`libcuda`) as one declarative `Deno.dlopen` table.
 *
 * Conventions, chosen for Deno's FFI fast path:
 * - `CUresult` is `i32`; every call's result is checked by the caller (src/cuda/driver.ts).
 * - `CUdeviceptr` and `size_t` are `u64`/`usize`: pass and receive `bigint`, never `number`
 *   (a `number` argument leaves the fast path, ~100 ns a call instead of ~7 ns on Deno 2.9).
 * - Handles (`CUcontext`, `CUstream`, `CUevent`, `CUmemoryPool`) are `pointer`.
 * - Out-parameters are `buffer`: a reused `BigUint64Array`/`Int32Array`/`Float32Array`.
 * - Calls that wait (stream and event synchronize) have a `nonblocking` alias ending in `Async`,
 *   which runs on a worker thread and returns a Promise.
 * - Symbols that older drivers lack are `optional` (null when missing).
 *
 * Versioned names (`_v2`) are the ones cuda.h maps the plain names to in CUDA 13.
 *
 * @module
 */

/** Symbol table for libcuda, one entry per driver function gpumem uses. */
export const cudaSymbols = {
  // --- initialisation and errors -------------------------------------------------------------
  /** CUresult cuInit(unsigned int Flags) */
  cuInit: { parameters: ["u32" /* Flags: must be 0 */], result: "i32" },
  /** CUresult cuDriverGetVersion(int *driverVersion) */
  cuDriverGetVersion: { parameters: ["buffer" /* int *driverVersion */], result: "i32" },
  /** CUresult cuGetErrorName(CUresult error, const char **pStr) */
  cuGetErrorName: {
    parameters: ["i32", /* CUresult error */ "buffer" /* const char **pStr */],
    result: "i32",
  },
  /** CUresult cuGetErrorString(CUresult error, const char **pStr) */
  cuGetErrorString: {
    parameters: ["i32", /* CUresult error */ "buffer" /* const char **pStr */],
    result: "i32",
  },

  // --- devices -------------------------------------------------------------------------------
  /** CUresult cuDeviceGetCount(int *count) */
  cuDeviceGetCount: { parameters: ["buffer" /* int *count */], result: "i32" },
  /** CUresult cuDeviceGet(CUdevice *device, int ordinal) */
  cuDeviceGet: {
    parameters: ["buffer", /* CUdevice *device */ "i32" /* int ordinal */],
    result: "i32",
  },
  /** CUresult cuDeviceGetName(char *name, int len, CUdevice dev) */
  cuDeviceGetName: {
    parameters: ["buffer", /* char *name */ "i32", /* int len */ "i32" /* CUdevice dev */],
    result: "i32",
  },
  /** CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) */
  cuDeviceTotalMem_v2: {
    parameters: ["buffer", /* size_t *bytes */ "i32" /* CUdevice dev */],
    result: "i32",
  },
  /** CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev) */
  cuDeviceGetAttribute: {
    parameters: [
      "buffer", /* int *pi */
      "i32", /* CUdevice_attribute attrib */
      "i32", /* CUdevice dev */
    ],
    result: "i32",
  },

  // --- contexts ------------------------------------------------------------------------------
  /** CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev) */
  cuDevicePrimaryCtxRetain: {
    parameters: ["buffer", /* CUcontext *pctx */ "i32" /* CUdevice dev */],
    result: "i32",
  },
  /** CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) */
  cuDevicePrimaryCtxRelease_v2: { parameters: ["i32" /* CUdevice dev */], result: "i32" },
  /** CUresult cuCtxSetCurrent(CUcontext ctx) */
  cuCtxSetCurrent: { parameters: ["pointer" /* CUcontext ctx */], result: "i32" },
  /** CUresult cuCtxGetCurrent(CUcontext *pctx) */
  cuCtxGetCurrent: { parameters: ["buffer" /* CUcontext *pctx */], result: "i32" },
  /** CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev) */
  cuDeviceCanAccessPeer: {
    parameters: [
      "buffer", /* int *canAccessPeer */
      "i32", /* CUdevice dev */
      "i32", /* CUdevice peerDev */
    ],
    result: "i32",
  },
  /** CUresult cuCtxEnablePeerAccess(CUcontext peerContext, unsigned int Flags) */
  cuCtxEnablePeerAccess: {
    parameters: ["pointer", /* CUcontext peerContext */ "u32" /* unsigned int Flags: must be 0 */],
    result: "i32",
  },
  /** CUresult cuCtxSynchronize(void) */
  cuCtxSynchronize: { parameters: [], result: "i32" },

  // --- memory --------------------------------------------------------------------------------
  /** CUresult cuMemGetInfo_v2(size_t *free, size_t *total) */
  cuMemGetInfo_v2: {
    parameters: ["buffer", /* size_t *free */ "buffer" /* size_t *total */],
    result: "i32",
  },
  /** CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) */
  cuMemAlloc_v2: {
    parameters: ["buffer", /* CUdeviceptr *dptr */ "usize" /* size_t bytesize */],
    result: "i32",
  },
  /** CUresult cuMemFree_v2(CUdeviceptr dptr) */
  cuMemFree_v2: { parameters: ["u64" /* CUdeviceptr dptr */], result: "i32" },
  /** CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream) */
  cuMemAllocAsync: {
    parameters: [
      "buffer", /* CUdeviceptr *dptr */
      "usize", /* size_t bytesize */
      "pointer", /* CUstream hStream */
    ],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream) */
  cuMemFreeAsync: {
    parameters: ["u64", /* CUdeviceptr dptr */ "pointer" /* CUstream hStream */],
    result: "i32",
    optional: true,
  },
  /** CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev) */
  cuDeviceGetDefaultMemPool: {
    parameters: ["buffer", /* CUmemoryPool *pool_out */ "i32" /* CUdevice dev */],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value) */
  cuMemPoolSetAttribute: {
    parameters: [
      "pointer", /* CUmemoryPool pool */
      "i32", /* CUmemPool_attribute attr */
      "buffer", /* void *value (cuuint64_t for the byte attributes) */
    ],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value) */
  cuMemPoolGetAttribute: {
    parameters: [
      "pointer", /* CUmemoryPool pool */
      "i32", /* CUmemPool_attribute attr */
      "buffer", /* void *value */
    ],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep) */
  cuMemPoolTrimTo: {
    parameters: ["pointer", /* CUmemoryPool pool */ "usize" /* size_t minBytesToKeep */],
    result: "i32",
    optional: true,
  },

  // --- page-locked host memory --------------------------------------------------------------
  /** CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags) */
  cuMemHostAlloc: {
    parameters: [
      "buffer", /* void **pp */
      "usize", /* size_t bytesize */
      "u32", /* unsigned int Flags: CU_MEMHOSTALLOC_* */
    ],
    result: "i32",
  },
  /** CUresult cuMemFreeHost(void *p) */
  cuMemFreeHost: { parameters: ["u64" /* void *p, as an address */], result: "i32" },
  /** CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags) */
  cuMemHostRegister_v2: {
    parameters: [
      "u64", /* void *p, as an address */
      "usize", /* size_t bytesize */
      "u32", /* unsigned int Flags: CU_MEMHOSTREGISTER_* */
    ],
    result: "i32",
  },
  /** CUresult cuMemHostUnregister(void *p) */
  cuMemHostUnregister: { parameters: ["u64" /* void *p, as an address */], result: "i32" },

  // --- virtual memory management (reserved ranges with physical memory mapped into them) -----
  /** CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop, CUmemAllocationGranularity_flags option) */
  cuMemGetAllocationGranularity: {
    parameters: [
      "buffer", /* size_t *granularity */
      "buffer", /* const CUmemAllocationProp *prop */
      "i32", /* CUmemAllocationGranularity_flags option */
    ],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr, unsigned long long flags) */
  cuMemAddressReserve: {
    parameters: [
      "buffer", /* CUdeviceptr *ptr */
      "usize", /* size_t size */
      "usize", /* size_t alignment (0: the granularity) */
      "u64", /* CUdeviceptr addr (0: anywhere) */
      "u64", /* unsigned long long flags: must be 0 */
    ],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) */
  cuMemAddressFree: {
    parameters: ["u64", /* CUdeviceptr ptr */ "usize" /* size_t size */],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop, unsigned long long flags) */
  cuMemCreate: {
    parameters: [
      "buffer", /* CUmemGenericAllocationHandle *handle */
      "usize", /* size_t size */
      "buffer", /* const CUmemAllocationProp *prop */
      "u64", /* unsigned long long flags: must be 0 */
    ],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemRelease(CUmemGenericAllocationHandle handle) */
  cuMemRelease: {
    parameters: ["u64" /* CUmemGenericAllocationHandle handle */],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle, unsigned long long flags) */
  cuMemMap: {
    parameters: [
      "u64", /* CUdeviceptr ptr */
      "usize", /* size_t size */
      "usize", /* size_t offset: must be 0 */
      "u64", /* CUmemGenericAllocationHandle handle */
      "u64", /* unsigned long long flags: must be 0 */
    ],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) */
  cuMemUnmap: {
    parameters: ["u64", /* CUdeviceptr ptr */ "usize" /* size_t size */],
    result: "i32",
    optional: true,
  },
  /** CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count) */
  cuMemSetAccess: {
    parameters: [
      "u64", /* CUdeviceptr ptr */
      "usize", /* size_t size */
      "buffer", /* const CUmemAccessDesc *desc */
      "usize", /* size_t count */
    ],
    result: "i32",
    optional: true,
  },

  // --- copies and fills ----------------------------------------------------------------------
  /** CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount) */
  cuMemcpyHtoD_v2: {
    parameters: [
      "u64", /* CUdeviceptr dstDevice */
      "buffer", /* const void *srcHost */
      "usize", /* size_t ByteCount */
    ],
    result: "i32",
  },
  /** CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount) */
  cuMemcpyDtoH_v2: {
    parameters: [
      "buffer", /* void *dstHost */
      "u64", /* CUdeviceptr srcDevice */
      "usize", /* size_t ByteCount */
    ],
    result: "i32",
  },
  /** CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) */
  cuMemcpyDtoD_v2: {
    parameters: [
      "u64", /* CUdeviceptr dstDevice */
      "u64", /* CUdeviceptr srcDevice */
      "usize", /* size_t ByteCount */
    ],
    result: "i32",
  },
  /** CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s) */
  cuMemcpyHtoDAsync_v2: {
    parameters: [
      "u64", /* CUdeviceptr dstDevice */
      "buffer", /* const void *srcHost */
      "usize", /* size_t ByteCount */
      "pointer", /* CUstream hStream */
    ],
    result: "i32",
  },
  /** CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s) */
  cuMemcpyDtoHAsync_v2: {
    parameters: [
      "buffer", /* void *dstHost */
      "u64", /* CUdeviceptr srcDevice */
      "usize", /* size_t ByteCount */
      "pointer", /* CUstream hStream */
    ],
    result: "i32",
  },
  /** CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) */
  cuMemcpyDtoDAsync_v2: {
    parameters: [
      "u64", /* CUdeviceptr dstDevice */
      "u64", /* CUdeviceptr srcDevice */
      "usize", /* size_t ByteCount */
      "pointer", /* CUstream hStream */
    ],
    result: "i32",
  },
  /** CUresult cuMemcpyPeer(CUdeviceptr dst, CUcontext dstCtx, CUdeviceptr src, CUcontext srcCtx, size_t n) */
  cuMemcpyPeer: {
    parameters: [
      "u64", /* CUdeviceptr dstDevice */
      "pointer", /* CUcontext dstContext */
      "u64", /* CUdeviceptr srcDevice */
      "pointer", /* CUcontext srcContext */
      "usize", /* size_t ByteCount */
    ],
    result: "i32",
  },
  /** CUresult cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dstCtx, CUdeviceptr src, CUcontext srcCtx, size_t n, CUstream s) */
  cuMemcpyPeerAsync: {
    parameters: [
      "u64", /* CUdeviceptr dstDevice */
      "pointer", /* CUcontext dstContext */
      "u64", /* CUdeviceptr srcDevice */
      "pointer", /* CUcontext srcContext */
      "usize", /* size_t ByteCount */
      "pointer", /* CUstream hStream */
    ],
    result: "i32",
  },
  /** CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N) */
  cuMemsetD8_v2: {
    parameters: ["u64", /* CUdeviceptr dstDevice */ "u8", /* unsigned char uc */ "usize" /* N */],
    result: "i32",
  },
  /** CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream s) */
  cuMemsetD8Async: {
    parameters: [
      "u64", /* CUdeviceptr dstDevice */
      "u8", /* unsigned char uc */
      "usize", /* size_t N */
      "pointer", /* CUstream hStream */
    ],
    result: "i32",
  },

  // --- streams -------------------------------------------------------------------------------
  /** CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags) */
  cuStreamCreate: {
    parameters: ["buffer", /* CUstream *phStream */ "u32" /* unsigned int Flags */],
    result: "i32",
  },
  /** CUresult cuStreamDestroy_v2(CUstream hStream) */
  cuStreamDestroy_v2: { parameters: ["pointer" /* CUstream hStream */], result: "i32" },
  /** CUresult cuStreamSynchronize(CUstream hStream) */
  cuStreamSynchronize: { parameters: ["pointer" /* CUstream hStream */], result: "i32" },
  /** CUresult cuStreamSynchronize(CUstream hStream), on a worker thread */
  cuStreamSynchronizeAsync: {
    name: "cuStreamSynchronize",
    parameters: ["pointer" /* CUstream hStream */],
    result: "i32",
    nonblocking: true,
  },
  /** CUresult cuStreamQuery(CUstream hStream) */
  cuStreamQuery: { parameters: ["pointer" /* CUstream hStream */], result: "i32" },
  /** CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags) */
  cuStreamWaitEvent: {
    parameters: [
      "pointer", /* CUstream hStream */
      "pointer", /* CUevent hEvent */
      "u32", /* unsigned int Flags: must be 0 */
    ],
    result: "i32",
  },

  // --- events --------------------------------------------------------------------------------
  /** CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags) */
  cuEventCreate: {
    parameters: ["buffer", /* CUevent *phEvent */ "u32" /* unsigned int Flags */],
    result: "i32",
  },
  /** CUresult cuEventDestroy_v2(CUevent hEvent) */
  cuEventDestroy_v2: { parameters: ["pointer" /* CUevent hEvent */], result: "i32" },
  /** CUresult cuEventRecord(CUevent hEvent, CUstream hStream) */
  cuEventRecord: {
    parameters: ["pointer", /* CUevent hEvent */ "pointer" /* CUstream hStream */],
    result: "i32",
  },
  /** CUresult cuEventQuery(CUevent hEvent) */
  cuEventQuery: { parameters: ["pointer" /* CUevent hEvent */], result: "i32" },
  /** CUresult cuEventSynchronize(CUevent hEvent) */
  cuEventSynchronize: { parameters: ["pointer" /* CUevent hEvent */], result: "i32" },
  /** CUresult cuEventSynchronize(CUevent hEvent), on a worker thread */
  cuEventSynchronizeAsync: {
    name: "cuEventSynchronize",
    parameters: ["pointer" /* CUevent hEvent */],
    result: "i32",
    nonblocking: true,
  },
  /** CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd) */
  cuEventElapsedTime: {
    parameters: [
      "buffer", /* float *pMilliseconds */
      "pointer", /* CUevent hStart */
      "pointer", /* CUevent hEnd */
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened driver library's symbols. */
export type CudaSymbols = Deno.DynamicLibrary<typeof cudaSymbols>["symbols"];

/** Names tried, in order, when GPUMEM_CUDA_LIBRARY is not set. */
export const CUDA_LIBRARY_NAMES: readonly string[] = ["libcuda.so.1", "libcuda.so"];

/** CUresult values gpumem reacts to by name (the rest are reported through cuGetErrorName). */
export const CUresult = {
  SUCCESS: 0,
  ERROR_INVALID_VALUE: 1,
  ERROR_OUT_OF_MEMORY: 2,
  ERROR_NOT_INITIALIZED: 3,
  ERROR_DEINITIALIZED: 4,
  ERROR_NO_DEVICE: 100,
  ERROR_INVALID_DEVICE: 101,
  ERROR_NOT_READY: 600,
  ERROR_PEER_ACCESS_ALREADY_ENABLED: 704,
  ERROR_HOST_MEMORY_ALREADY_REGISTERED: 712,
  ERROR_HOST_MEMORY_NOT_REGISTERED: 713,
} as const;

/** CUdevice_attribute values gpumem reads. */
export const CUdevice_attribute = {
  MULTIPROCESSOR_COUNT: 16,
  INTEGRATED: 18,
  PCI_BUS_ID: 33,
  L2_CACHE_SIZE: 38,
  UNIFIED_ADDRESSING: 41,
  PCI_DEVICE_ID: 34,
  COMPUTE_CAPABILITY_MAJOR: 75,
  COMPUTE_CAPABILITY_MINOR: 76,
  CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM: 91,
  VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: 102,
  MEMORY_POOLS_SUPPORTED: 115,
} as const;

/** CUmemPool_attribute values gpumem reads or sets (all cuuint64_t). */
export const CUmemPool_attribute = {
  RELEASE_THRESHOLD: 4,
  RESERVED_MEM_CURRENT: 5,
  RESERVED_MEM_HIGH: 6,
  USED_MEM_CURRENT: 7,
  USED_MEM_HIGH: 8,
} as const;

/**
 * cuMemHostAlloc flag: the memory is pinned for every context, not only the one current at the
 * call (gpumem's pinned pool serves all devices' transfers from it).
 */
export const CU_MEMHOSTALLOC_PORTABLE = 0x1;
/** cuMemHostRegister flag: the registration counts for every context. */
export const CU_MEMHOSTREGISTER_PORTABLE = 0x1;

/** Stream and event creation flags. */
export const CU_STREAM_NON_BLOCKING = 0x1;
/** An event without timing data is cheaper to record; used for ordering only. */
export const CU_EVENT_DISABLE_TIMING = 0x2;
/** The default event flags: timing enabled, spin-wait synchronize. */
export const CU_EVENT_DEFAULT = 0x0;

/** CUmemAllocationGranularity_flags. */
export const CUmemAllocationGranularity = { MINIMUM: 0, RECOMMENDED: 1 } as const;

/**
 * A CUmemAllocationProp (32 bytes) for pinned device memory on device `ordinal`, no shareable
 * handle: type@0 = CU_MEM_ALLOCATION_TYPE_PINNED (1), requestedHandleTypes@4 = NONE (0),
 * location@8 = { type: CU_MEM_LOCATION_TYPE_DEVICE (1), id@12: ordinal },
 * win32HandleMetaData@16 = NULL, allocFlags@24 = zeros.
 */
export function memAllocationProp(ordinal: number): Uint8Array<ArrayBuffer> {
  const prop = new Uint8Array(32);
  const view = new DataView(prop.buffer);
  view.setInt32(0, 1, true);
  view.setInt32(8, 1, true);
  view.setInt32(12, ordinal, true);
  return prop;
}

/**
 * A CUmemAccessDesc (12 bytes) granting device `ordinal` read and write access:
 * location@0 = { type: CU_MEM_LOCATION_TYPE_DEVICE (1), id@4: ordinal },
 * flags@8 = CU_MEM_ACCESS_FLAGS_PROT_READWRITE (3).
 */
export function memAccessDesc(ordinal: number): Uint8Array<ArrayBuffer> {
  const desc = new Uint8Array(12);
  const view = new DataView(desc.buffer);
  view.setInt32(0, 1, true);
  view.setInt32(4, ordinal, true);
  view.setInt32(8, 3, true);
  return desc;
}
