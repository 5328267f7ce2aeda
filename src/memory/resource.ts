/**
 * The interface every gpumem allocator is written against, in the manner of RAPIDS RMM's
 * device_memory_resource: upstreams (cuMemAlloc, cuMemAllocAsync, host memory) implement it, and
 * later layers (pools, limits, tracking, fault injection) wrap one resource in another.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";

/** Something that hands out and takes back memory on one device. */
export interface MemoryResource {
  /** The device whose memory this resource manages. */
  readonly device: MemoryDevice;
  /** A short name for messages and statistics, e.g. `cuMemAlloc(cuda:0)`. */
  readonly name: string;
  /**
   * Returns the address of `bytes` new bytes (0n for 0 bytes). `stream` orders the allocation
   * for stream-ordered resources; others ignore it. Throws OutOfMemoryError when the memory
   * cannot be had, InvalidArgumentError for a bad size.
   */
  allocate(bytes: number, stream?: Stream): bigint;
  /**
   * Takes back an address this resource returned, with the same byte count. Throws
   * InvalidArgumentError (before any driver call) for an address it did not hand out.
   */
  deallocate(address: bigint, bytes: number, stream?: Stream): void;
}
