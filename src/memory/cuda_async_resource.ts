/**
 * CUDA's stream-ordered allocator: cuMemAllocAsync / cuMemFreeAsync on the device's default
 * memory pool, whose release threshold decides how much freed memory the driver keeps cached.
 *
 * @module
 */

import { CUmemPool_attribute } from "../../ffi/cuda.ts";
import type { Device } from "../cuda/device.ts";
import { check, cudaDriver } from "../cuda/driver.ts";
import type { Stream } from "../cuda/stream.ts";
import { GpumemError, InvalidArgumentError } from "../errors.ts";
import { checkByteCount } from "../validate.ts";
import { LiveAllocations } from "./live_allocations.ts";
import { checkDriverAllocation } from "../cuda/driver_allocation.ts";
import type { MemoryResource } from "./resource.ts";

const u64Out = new BigUint64Array(1);

/** Options for {@linkcode CudaAsyncResource}. */
export interface CudaAsyncResourceOptions {
  /**
   * Bytes of freed memory the driver's pool may keep instead of returning them to the device at
   * each synchronisation (CU_MEMPOOL_ATTR_RELEASE_THRESHOLD). Left as the driver has it if unset.
   */
  releaseThreshold?: number;
}

/**
 * Stream-ordered device memory from the device's default CUmemoryPool (~0.6 µs a round trip on
 * an H100). Allocation and free are ordered on the stream given (the legacy default stream when
 * none is), so the memory may be reused by the driver as soon as the stream's work reaches the free.
 *
 * @example
 * ```ts
 * import { CudaAsyncResource, cudaAvailability, Device, Stream } from "@gpumem/gpumem";
 * if (cudaAvailability().usable) {
 *   const device = Device.get(0);
 *   using stream = new Stream(device);
 *   const resource = new CudaAsyncResource(device, { releaseThreshold: 1 << 30 });
 *   const address = resource.allocate(4096, stream);
 *   resource.deallocate(address, 4096, stream);
 * }
 * ```
 */
export class CudaAsyncResource implements MemoryResource {
  /** The CUDA device allocated on. */
  readonly device: Device;
  /** `cuMemAllocAsync(cuda:N)`. */
  readonly name: string;
  /** What this resource has handed out and not taken back. */
  readonly live: LiveAllocations = new LiveAllocations();
  readonly #pool: Deno.PointerValue;

  /** A resource on `device`'s default memory pool; GpumemError if the device has no pools. */
  constructor(device: Device, options: CudaAsyncResourceOptions = {}) {
    const { symbols } = cudaDriver();
    if (!device.capabilities.memoryPools || symbols.cuDeviceGetDefaultMemPool === null) {
      throw new GpumemError(`${device.id} does not support stream-ordered memory pools`);
    }
    if (options.releaseThreshold !== undefined) {
      checkByteCount(options.releaseThreshold, "releaseThreshold");
    }
    this.device = device;
    this.name = `cuMemAllocAsync(${device.id})`;
    check(symbols.cuDeviceGetDefaultMemPool(u64Out, device.handle), "cuDeviceGetDefaultMemPool");
    this.#pool = Deno.UnsafePointer.create(u64Out[0]);
    if (options.releaseThreshold !== undefined) this.releaseThreshold = options.releaseThreshold;
  }

  /** cuMemAllocAsync on `stream`; OutOfMemoryError when the pool cannot grow. */
  allocate(bytes: number, stream?: Stream): bigint {
    checkByteCount(bytes, "bytes");
    this.#checkStream(stream);
    if (bytes === 0) return 0n;
    this.device.activate();
    const result = cudaDriver().symbols.cuMemAllocAsync!(
      u64Out,
      BigInt(bytes),
      stream?.handle ?? null,
    );
    checkDriverAllocation(result, "cuMemAllocAsync", this.device, bytes);
    const address = u64Out[0];
    this.live.add(address, bytes);
    this.device.retainUser();
    return address;
  }

  /** cuMemFreeAsync on `stream`, after checking the address is a live allocation of this resource. */
  deallocate(address: bigint, bytes: number, stream?: Stream): void {
    if (bytes === 0 && address === 0n) return;
    this.live.verify(address, bytes, this.name);
    this.#checkStream(stream);
    this.device.activate();
    check(cudaDriver().symbols.cuMemFreeAsync!(address, stream?.handle ?? null), "cuMemFreeAsync");
    this.live.remove(address, bytes);
    this.device.releaseUser();
  }

  /** Bytes of freed memory the driver keeps cached in the pool. */
  get releaseThreshold(): number {
    return this.#attribute(CUmemPool_attribute.RELEASE_THRESHOLD);
  }

  /** Sets the release threshold (a non-negative safe integer). */
  set releaseThreshold(bytes: number) {
    checkByteCount(bytes, "releaseThreshold");
    u64Out[0] = BigInt(bytes);
    check(
      cudaDriver().symbols.cuMemPoolSetAttribute!(
        this.#pool,
        CUmemPool_attribute.RELEASE_THRESHOLD,
        u64Out,
      ),
      "cuMemPoolSetAttribute",
    );
  }

  /** Bytes the driver's pool holds from the device now, in use or cached. */
  reservedBytes(): number {
    return this.#attribute(CUmemPool_attribute.RESERVED_MEM_CURRENT);
  }

  /** Bytes of the driver's pool in use now (all users of the default pool, not only this one). */
  usedBytes(): number {
    return this.#attribute(CUmemPool_attribute.USED_MEM_CURRENT);
  }

  /** Returns cached memory to the device until at most `bytesToKeep` stay reserved. */
  trimTo(bytesToKeep: number): void {
    checkByteCount(bytesToKeep, "bytesToKeep");
    check(
      cudaDriver().symbols.cuMemPoolTrimTo!(this.#pool, BigInt(bytesToKeep)),
      "cuMemPoolTrimTo",
    );
  }

  #attribute(attribute: number): number {
    check(
      cudaDriver().symbols.cuMemPoolGetAttribute!(this.#pool, attribute, u64Out),
      "cuMemPoolGetAttribute",
    );
    return Number(u64Out[0]);
  }

  #checkStream(stream: Stream | undefined): void {
    if (stream !== undefined && stream.device !== this.device) {
      throw new InvalidArgumentError("stream", `a stream on ${this.device.id}`, stream.toString());
    }
  }
}
