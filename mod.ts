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

// Errors.
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
  SlotsHeldError,
  TransferError,
} from "./src/errors.ts";
export type { HostArray, HostArrayConstructor } from "./src/validate.ts";

// Devices and their work queues.
export { Device, type DeviceCapabilities, type MemInfo } from "./src/cuda/device.ts";
export { Stream } from "./src/cuda/stream.ts";
export { Event, type EventOptions } from "./src/cuda/event.ts";

export { cpuDevice } from "./src/device/cpu_device.ts";
export type { ByteOps, MemoryDevice } from "./src/device/types.ts";
export {
  type CudaAvailability,
  cudaAvailability,
  defaultDevice,
  deviceByName,
  listDevices,
} from "./src/device/select.ts";

// Memory resources: the pool, its upstreams, fault injection; allocation traces.
export { type MemoryResource } from "./src/memory/resource.ts";
export { MemoryPool, type MemoryPoolOptions } from "./src/memory/pool/memory_pool.ts";
export type { PoolStats } from "./src/memory/pool/pool_stats.ts";
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
export { LimitingResource, type LimitingResourceOptions } from "./src/memory/limiting_resource.ts";
export {
  CudaAsyncResource,
  type CudaAsyncResourceOptions,
} from "./src/memory/cuda_async_resource.ts";
export { HostResource } from "./src/memory/host_resource.ts";
export { PinnedHostResource } from "./src/memory/pinned_host_resource.ts";

// Buffers and transfers.
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
  Readback,
  ReadbackFrame,
  type ReadbackOptions,
  type ReadbackStats,
} from "./src/transfer/readback.ts";
export {
  TransferPipeline,
  type TransferPipelineOptions,
  type TransferStats,
  type UploadEachOptions,
} from "./src/transfer/transfer_pipeline.ts";

// The manager and the tracker.
export {
  type MemoryReport,
  MemoryTracker,
  type MemoryTrackerOptions,
  TrackerScope,
} from "./src/tracking/memory_tracker.ts";
export { activeTracker, setActiveTracker } from "./src/tracking/active_tracker.ts";

export { getMemoryManager, MemoryManager, type MemoryUsage } from "./src/manager/memory_manager.ts";
export { type MemorySnapshot, parseSnapshot } from "./src/snapshot/snapshot_format.ts";

// Kernels: mesh queries, nearest neighbours and features, distances.
export { axpy } from "./src/kernels/axpy.ts";
export { stepParticles, type StepParticlesOptions } from "./src/kernels/particles.ts";
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
export { kernelLibrary } from "./src/kernels/library.ts";

// Types the public signatures name (base classes, handles, report rows): exported as types only,
// so that the documentation can show them; their constructors and helpers stay inside src/.
export type { LoadAttempt } from "./ffi/loader.ts";
export type { DeviceHandle } from "./src/cuda/device_handle.ts";
export type { CudaByteOps } from "./src/cuda/byte_ops.ts";
export type { CpuDevice } from "./src/device/cpu_device.ts";
export type { BlockResource, ResourceBlock } from "./src/memory/resource.ts";
export type { StatCounter } from "./src/memory/pool/pool_stats.ts";
export type { DriverResource } from "./src/memory/driver_resource.ts";
export type { AddressSpaceResource } from "./src/memory/address_space/address_space_resource.ts";
export type { LiveAllocations } from "./src/memory/live_allocations.ts";
export type { MemorySource } from "./src/memory/out_of_memory.ts";
export type { DevicePools } from "./src/memory/default_resources.ts";
export type {
  EventOp,
  ReportRow,
  SiteCapture,
  Timeline,
  TrackedAllocation,
} from "./src/tracking/memory_tracker.ts";
export type {
  BlockSnapshot,
  BlockState,
  DeviceSnapshot,
  LiveSnapshot,
  PoolSnapshot,
  SegmentSnapshot,
} from "./src/snapshot/snapshot_format.ts";
export type { KernelBackend, KernelLibrary } from "./src/kernels/library.ts";
