/**
 * gpumem: GPU memory management for Deno, bound straight to the CUDA driver.
 *
 * Device buffers with one owner and views that die with it, streams and events, composable memory
 * resources (cuMemAlloc, cuMemAllocAsync, host memory), pinned host buffers, registered arrays and
 * staged transfers, and a cpu device that runs the same code where no GPU is usable.
 *
 * @example
 * ```ts
 * import { DeviceBuffer, defaultDevice } from "@gpumem/gpumem";
 * console.log(defaultDevice().name);
 * using buffer = DeviceBuffer.fromHost(new Float32Array([1, 2, 3]));
 * console.log(buffer.typed(Float32Array).copyToHost());
 * ```
 *
 * @module
 */

export {
  CapacityError,
  CudaError,
  DisposedError,
  DriverUnavailableError,
  formatBytes,
  GpumemError,
  InvalidArgumentError,
  KernelLibraryUnavailableError,
  LibraryUnavailableError,
  type OutOfMemoryDetails,
  OutOfMemoryError,
  TransferError,
} from "./src/errors.ts";
export type { HostArray, HostArrayConstructor } from "./src/validate.ts";
export type { LoadAttempt } from "./ffi/loader.ts";

export {
  CUDA_LIBRARY_ENV,
  type CudaDriver,
  cudaDriver,
  loadCudaDriver,
} from "./src/cuda/driver.ts";
export { Device, type DeviceCapabilities, type MemInfo } from "./src/cuda/device.ts";
export { CudaByteOps } from "./src/cuda/byte_ops.ts";
export { type CudaSymbols, cudaSymbols } from "./ffi/cuda.ts";
export { type KernelSymbols, kernelSymbols } from "./ffi/kernels.ts";
export { Stream, streamDone } from "./src/cuda/stream.ts";
export { DeviceHandle } from "./src/cuda/device_handle.ts";
export { Event, type EventOptions } from "./src/cuda/event.ts";

export { CpuDevice, cpuDevice } from "./src/device/cpu_device.ts";
export type { ByteOps, MemoryDevice } from "./src/device/types.ts";
export {
  type CudaAvailability,
  cudaAvailability,
  defaultDevice,
  DEVICE_ENV,
  deviceByName,
  listDevices,
} from "./src/device/select.ts";

export {
  type BlockResource,
  isBlockResource,
  type MemoryResource,
  type ResourceBlock,
} from "./src/memory/resource.ts";
export { MemoryPool, type MemoryPoolOptions } from "./src/memory/pool/memory_pool.ts";
export { GrowableRange } from "./src/memory/pool/growable_range.ts";
export { Block, Segment } from "./src/memory/pool/block.ts";
export type { PoolStats, StatCounter } from "./src/memory/pool/pool_stats.ts";
export { parseByteLimit } from "./src/memory/limit.ts";
export { VirtualResource } from "./src/memory/virtual_resource.ts";
export { FaultInjectingAddressSpace } from "./src/memory/address_space/fault_injecting_address_space.ts";
export {
  AddressSpaceResource,
  isAddressSpaceResource,
} from "./src/memory/address_space/address_space_resource.ts";
export {
  type HostVirtualMemoryOptions,
  HostVirtualMemoryResource,
} from "./src/memory/address_space/host_virtual_memory_resource.ts";
export {
  type CudaVirtualMemoryOptions,
  CudaVirtualMemoryResource,
} from "./src/memory/address_space/cuda_virtual_memory_resource.ts";
export {
  readTrace,
  type ReplayResult,
  replayTrace,
  type TorchFigures,
  type Trace,
  type TraceEvent,
} from "./src/replay/trace.ts";
export {
  FaultInjectingResource,
  type FaultOptions,
  FaultSchedule,
} from "./src/memory/fault_injecting_resource.ts";
export { CudaMallocResource } from "./src/memory/cuda_malloc_resource.ts";
export { DriverResource } from "./src/memory/driver_resource.ts";
export {
  CudaAsyncResource,
  type CudaAsyncResourceOptions,
} from "./src/memory/cuda_async_resource.ts";
export { HOST_ALIGNMENT, HostResource } from "./src/memory/host_resource.ts";
export { LiveAllocations } from "./src/memory/live_allocations.ts";
export {
  defaultPinnedPool,
  defaultPinnedPools,
  defaultPools,
  defaultResource,
  defaultUpstream,
  LIMIT_ENV,
  PINNED_LIMIT_ENV,
  pinnedUpstream,
} from "./src/memory/default_resources.ts";
export { PinnedHostResource } from "./src/memory/pinned_host_resource.ts";
export type { MemorySource } from "./src/memory/out_of_memory.ts";

export { type AllocateOptions, DeviceBuffer } from "./src/buffers/device_buffer.ts";
export { TypedDeviceView } from "./src/buffers/typed_device_view.ts";
export { BufferBatch } from "./src/buffers/buffer_batch.ts";
export {
  type GrowthPolicy,
  ResizableBuffer,
  type ResizableBufferOptions,
  type ResizeStrategy,
} from "./src/buffers/resizable_buffer.ts";
export { HostBuffer, type HostBufferOptions } from "./src/transfer/host_buffer.ts";
export {
  HostRegistration,
  registerHost,
  type RegisterHostOptions,
} from "./src/transfer/host_registration.ts";
export {
  TransferPipeline,
  type TransferPipelineOptions,
  type TransferStats,
  type UploadEachOptions,
} from "./src/transfer/transfer_pipeline.ts";
export {
  type CollectedBuffer,
  type CollectedBufferReporter,
  setCollectedBufferReporter,
} from "./src/buffers/collection_net.ts";

export {
  type LabelEntry,
  type MemoryReport,
  MemoryTracker,
  type MemoryTrackerOptions,
  registerTrackerNursery,
  type ReportRow,
  type SiteCapture,
  type TrackedAllocation,
  type TrackerNode,
  TrackerScope,
} from "./src/tracking/memory_tracker.ts";
export { activeTracker, setActiveTracker } from "./src/tracking/active_tracker.ts";

export { getMemoryManager, MemoryManager, type MemoryUsage } from "./src/manager/memory_manager.ts";

export { axpy } from "./src/kernels/axpy.ts";
export { MeshBvh, type MeshBvhOptions } from "./src/kernels/mesh_bvh.ts";
export { type KernelPlacementOptions } from "./src/kernels/kernel_options.ts";
export {
  type DevicePointFeatures,
  type DevicePointNeighbours,
  type DeviceRadiusNeighbours,
  knnPoints,
  type KnnPointsOptions,
  planKnnPoints,
  type PointFeatures,
  pointFeatures,
  type PointFeaturesOptions,
  type PointNeighbours,
  type PointQueryOptions,
  type PointQueryPlan,
  type RadiusNeighbours,
  radiusSearch,
  type RadiusSearchOptions,
} from "./src/kernels/point_queries.ts";
export {
  type DeviceNeighbours,
  knn,
  type KnnOptions,
  type KnnPlan,
  l2Distances,
  type L2DistancesOptions,
  type Neighbours,
  planKnn,
  type Precision,
} from "./src/kernels/vector_distances.ts";
export type {
  ClosestPoints,
  ClosestPointsOptions,
  DeviceClosestPoints,
  DeviceRayHits,
  DeviceSignedDistances,
  RayCastOptions,
  RayHits,
  SignedDistanceOptions,
  SignedDistances,
  SignMode,
} from "./src/kernels/mesh_queries.ts";
export type {
  CoordinateArray,
  CoordinateInput,
  IndexArray,
  IndexInput,
} from "./src/kernels/mesh_input.ts";
export {
  checkKernelStatus,
  KERNEL_LIBRARY_ENV,
  type KernelBackend,
  type KernelLibrary,
  kernelLibrary,
  loadKernelLibrary,
} from "./src/kernels/library.ts";
