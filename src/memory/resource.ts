/**
 * The interface every gpumem allocator is written against, in the manner of RAPIDS RMM's
 * device_memory_resource: upstreams (cuMemAlloc, cuMemAllocAsync, host memory) implement it, and
 * later layers (pools, limits, tracking, fault injection) wrap one resource in another.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import { checkDevice } from "../validate.ts";
import type { Stream } from "../cuda/stream.ts";
import type { MemInfo, MemoryDevice } from "../device/types.ts";

/** Something that hands out and takes back memory on one device. */
export interface MemoryResource {
  /** The device whose memory this resource manages. */
  readonly device: MemoryDevice;
  /** A short name for messages and statistics, e.g. `cuMemAlloc(cuda:0)`. */
  readonly name: string;
  /**
   * True when its addresses are not backed by memory (address space for accounting and trace
   * replay, such as VirtualResource, and anything over it): buffers refuse such a resource.
   */
  readonly addressesOnly?: boolean;
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
  /**
   * Free and total bytes of the memory this resource draws from, where that is not its device's
   * (pinned host memory comes from the system's). Pools use it for percentage limits, pressure
   * and out-of-memory reports; absent, they ask the device.
   */
  memInfo?(): MemInfo;
}

/** An allocation handed out by a {@linkcode BlockResource}: its address, and whatever the resource keeps. */
export interface ResourceBlock {
  /** Start address. */
  readonly address: bigint;
}

/**
 * A resource that can hand out blocks it takes back without looking the address up: the fast
 * path DeviceBuffer uses with a pool (a cached round trip then costs no map lookup at all).
 */
export interface BlockResource extends MemoryResource {
  /** Allocates `bytes` (> 0) bytes ordered on `stream`, labelled for reports. */
  allocateBlock(bytes: number, stream?: Stream, label?: string): ResourceBlock;
  /** Takes back a block from allocateBlock; a foreign or freed block is InvalidArgumentError. */
  deallocateBlock(block: ResourceBlock, stream?: Stream): void;
  /** Marks a live block as used on `stream` too: its reuse then waits for that stream's work. */
  recordStream(block: ResourceBlock, stream: Stream): void;
}

/** Whether `resource` has the block fast path. */
export function isBlockResource(resource: MemoryResource): resource is BlockResource {
  return typeof (resource as Partial<BlockResource>).allocateBlock === "function";
}

/**
 * Rejects (InvalidArgumentError, before any use) a resource whose addresses hold no memory:
 * nothing may read or write them, so no buffer may be made from it.
 */
export function checkBacked<R extends MemoryResource>(resource: R, argument: string): R {
  if (resource.addressesOnly === true) {
    throw new InvalidArgumentError(
      argument,
      "a resource backed by memory (this one hands out addresses only, for accounting)",
      resource.name,
    );
  }
  return resource;
}

/** Rejects what is no MemoryResource: a device, a name, allocate and deallocate. */
export function checkMemoryResource(resource: MemoryResource, argument: string): void {
  const r = resource as Partial<MemoryResource> | null;
  if (
    typeof r !== "object" || r === null || typeof r.allocate !== "function" ||
    typeof r.deallocate !== "function" || typeof r.name !== "string"
  ) {
    throw new InvalidArgumentError(argument, "a MemoryResource", resource);
  }
  checkDevice(r.device, `${argument}.device`);
}
