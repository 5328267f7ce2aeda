/**
 * CUDA devices and their primary contexts.
 *
 * @module
 */

import { CUdevice_attribute, CUresult } from "../../ffi/cuda.ts";
import { GpumemError, InvalidArgumentError } from "../errors.ts";
import { check, cudaDriver } from "./driver.ts";
import { CudaByteOps } from "./byte_ops.ts";
import { recordPeerAccess } from "./peer_access.ts";

/** Free and total bytes of a device, as its driver reports them now. */
export interface MemInfo {
  /** Bytes the device can still hand out. */
  free: number;
  /** Bytes the device has in all. */
  total: number;
}

/** Capabilities of a CUDA device that gpumem's allocators depend on. */
export interface DeviceCapabilities {
  /** cuMemAddressReserve/cuMemCreate/cuMemMap are supported (growable segments, resizing). */
  virtualMemoryManagement: boolean;
  /** cuMemAllocAsync and the cuMemPool family are supported. */
  memoryPools: boolean;
  /** Host and device share one address space (needed for cross-device copies). */
  unifiedAddressing: boolean;
  /** Registered host memory is reachable at the same address from the device. */
  hostPointerForRegisteredMemory: boolean;
  /** The GPU shares memory with the host (Jetson and the like). */
  integrated: boolean;
}

const int32Out = new Int32Array(1);
const u64Out = new BigUint64Array(1);
const u64Out2 = new BigUint64Array(1);
const opened = new Map<number, Device>();
let currentContext: Device | undefined;

/**
 * A CUDA device, holding its primary context (the one the CUDA runtime and the kernel library
 * use too) from {@linkcode Device.get} until {@linkcode Device.close}.
 *
 * @example
 * ```ts
 * import { cudaAvailability, Device } from "@gpumem/gpumem";
 * if (cudaAvailability().usable) {
 *   const gpu = Device.get(0);
 *   console.log(gpu.name, gpu.memInfo());
 * }
 * ```
 */
export class Device {
  /** Number of CUDA devices; throws DriverUnavailableError when the driver cannot be used. */
  static count(): number {
    const { symbols } = cudaDriver();
    check(symbols.cuDeviceGetCount(int32Out), "cuDeviceGetCount");
    return int32Out[0];
  }

  /** The device with this ordinal, opened (primary context retained) on first use. */
  static get(ordinal = 0): Device {
    if (!Number.isSafeInteger(ordinal) || ordinal < 0) {
      throw new InvalidArgumentError("ordinal", "a non-negative integer", ordinal);
    }
    const existing = opened.get(ordinal);
    if (existing) return existing;
    const count = Device.count();
    if (ordinal >= count) {
      throw new InvalidArgumentError("ordinal", `a device ordinal below ${count}`, ordinal);
    }
    const device = new Device(ordinal);
    opened.set(ordinal, device);
    return device;
  }

  /** Always "cuda": tells CUDA devices from the cpu device. */
  readonly kind = "cuda" as const;
  /** The device's ordinal, as CUDA numbers it. */
  readonly ordinal: number;
  /** `cuda:<ordinal>`, used in messages and statistics. */
  readonly id: string;
  /** The product name, e.g. "NVIDIA H100 80GB HBM3". */
  readonly name: string;
  /** Total device memory in bytes. */
  readonly totalMemory: number;
  /** Compute capability as [major, minor]. */
  readonly computeCapability: readonly [number, number];
  /** Streaming multiprocessors. */
  readonly multiprocessorCount: number;
  /** What this device supports. */
  readonly capabilities: Readonly<DeviceCapabilities>;
  /** Byte copies and fills on this device's memory (used by buffers). */
  readonly ops: CudaByteOps;

  readonly #handle: number;
  #context: Deno.PointerValue;
  #closed = false;
  #users = 0;

  private constructor(ordinal: number) {
    const { symbols } = cudaDriver();
    check(symbols.cuDeviceGet(int32Out, ordinal), "cuDeviceGet");
    this.#handle = int32Out[0];
    this.ordinal = ordinal;
    this.id = `cuda:${ordinal}`;
    const nameBytes = new Uint8Array(256);
    check(symbols.cuDeviceGetName(nameBytes, nameBytes.length, this.#handle), "cuDeviceGetName");
    this.name = new TextDecoder().decode(nameBytes.subarray(0, nameBytes.indexOf(0)));
    check(symbols.cuDeviceTotalMem_v2(u64Out, this.#handle), "cuDeviceTotalMem_v2");
    this.totalMemory = Number(u64Out[0]);
    const attribute = (which: number) => {
      check(symbols.cuDeviceGetAttribute(int32Out, which, this.#handle), "cuDeviceGetAttribute");
      return int32Out[0];
    };
    this.computeCapability = [
      attribute(CUdevice_attribute.COMPUTE_CAPABILITY_MAJOR),
      attribute(CUdevice_attribute.COMPUTE_CAPABILITY_MINOR),
    ];
    this.multiprocessorCount = attribute(CUdevice_attribute.MULTIPROCESSOR_COUNT);
    this.capabilities = Object.freeze({
      virtualMemoryManagement:
        attribute(CUdevice_attribute.VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED) !== 0,
      memoryPools: attribute(CUdevice_attribute.MEMORY_POOLS_SUPPORTED) !== 0,
      unifiedAddressing: attribute(CUdevice_attribute.UNIFIED_ADDRESSING) !== 0,
      hostPointerForRegisteredMemory:
        attribute(CUdevice_attribute.CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM) !== 0,
      integrated: attribute(CUdevice_attribute.INTEGRATED) !== 0,
    });
    check(symbols.cuDevicePrimaryCtxRetain(u64Out, this.#handle), "cuDevicePrimaryCtxRetain");
    this.#context = Deno.UnsafePointer.create(u64Out[0]);
    this.ops = new CudaByteOps(this);
    this.activate();
  }

  /** The CUdevice handle (for the kernel library and advanced driver calls). */
  get handle(): number {
    this.#assertOpen();
    return this.#handle;
  }

  /** The retained primary CUcontext. */
  get context(): Deno.PointerValue {
    this.#assertOpen();
    return this.#context;
  }

  /** Whether {@linkcode Device.close} has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Makes this device's context current on the calling thread. Cheap when it already is: the
   * last context set from JavaScript is remembered, and only a switch reaches the driver.
   */
  activate(): void {
    if (currentContext === this) return;
    this.#assertOpen();
    check(cudaDriver().symbols.cuCtxSetCurrent(this.#context), "cuCtxSetCurrent");
    currentContext = this;
  }

  /** Free and total device memory now (cuMemGetInfo). */
  memInfo(): MemInfo {
    this.activate();
    check(cudaDriver().symbols.cuMemGetInfo_v2(u64Out, u64Out2), "cuMemGetInfo_v2");
    return { free: Number(u64Out[0]), total: Number(u64Out2[0]) };
  }

  /**
   * Whether this device can read and write `peer`'s memory directly over NVLink or PCIe
   * (cuDeviceCanAccessPeer). False for the device itself.
   */
  canAccessPeer(peer: Device): boolean {
    checkPeer(this, peer);
    if (peer === this) return false;
    check(
      cudaDriver().symbols.cuDeviceCanAccessPeer(int32Out, this.handle, peer.handle),
      "cuDeviceCanAccessPeer",
    );
    return int32Out[0] === 1;
  }

  /**
   * Lets this device reach `peer`'s memory directly (cuCtxEnablePeerAccess, and cuMemSetAccess on
   * `peer`'s virtual-memory mappings, now and later), so copies between them skip the host. Returns false when the hardware does not allow it (copies still
   * work, staged by the driver). Idempotent.
   */
  enablePeerAccess(peer: Device): boolean {
    if (!this.canAccessPeer(peer)) return false;
    this.activate();
    const result = cudaDriver().symbols.cuCtxEnablePeerAccess(peer.context, 0);
    if (result !== CUresult.ERROR_PEER_ACCESS_ALREADY_ENABLED) {
      check(result, "cuCtxEnablePeerAccess");
    }
    // Memory from the virtual memory API (the default pools) needs its own grant.
    recordPeerAccess(peer, this);
    return true;
  }

  /** Waits for all work on this device's context (cuCtxSynchronize). */
  synchronize(): void {
    this.activate();
    check(cudaDriver().symbols.cuCtxSynchronize(), "cuCtxSynchronize");
  }

  /**
   * Counts a live user of the context (an allocation, stream or event made through gpumem), so
   * that {@linkcode Device.close} cannot destroy memory or handles still in use. Paired with
   * {@linkcode Device.releaseUser}; called by resources, streams and events.
   */
  retainUser(): void {
    this.#assertOpen();
    this.#users++;
  }

  /** Ends a use counted by {@linkcode Device.retainUser}. */
  releaseUser(): void {
    this.#users--;
  }

  /**
   * Releases the primary context. Refused (GpumemError) while allocations, streams or events made
   * through gpumem are alive on it, since releasing the last reference destroys them all.
   * Idempotent; a later {@linkcode Device.get} opens the device again.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#users > 0) {
      throw new GpumemError(
        `${this.id} cannot be closed: ${this.#users} allocations, streams or events are alive on it`,
      );
    }
    if (currentContext === this) currentContext = undefined;
    opened.delete(this.ordinal);
    this.#closed = true;
    this.#context = null;
    check(
      cudaDriver().symbols.cuDevicePrimaryCtxRelease_v2(this.#handle),
      "cuDevicePrimaryCtxRelease_v2",
    );
  }

  /** Same as {@linkcode Device.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Device(cuda:0, NVIDIA H100 80GB HBM3)`. */
  toString(): string {
    return `Device(${this.id}, ${this.name})`;
  }

  #assertOpen(): void {
    if (this.#closed) throw new GpumemError(`${this.id} was closed; call Device.get again`);
  }
}

/** Rejects a peer argument that is not an open CUDA Device. */
function checkPeer(device: Device, peer: unknown): asserts peer is Device {
  if (!(peer instanceof Device) || peer.closed) {
    throw new InvalidArgumentError("peer", `an open CUDA Device besides ${device.id}`, peer);
  }
}

/**
 * Forgets which context JavaScript last made current. Call after native code that may have
 * switched the calling thread's context (the kernel library restores it, so this is a safety net).
 */
export function forgetCurrentContext(): void {
  currentContext = undefined;
}
