/**
 * The record one allocation's owning buffer and all its views share: freeing the owner marks it,
 * and every view checks it before handing out an address.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import { isBlockResource, type MemoryResource, type ResourceBlock } from "../memory/resource.ts";
import type { MemoryTracker, TrackerNode } from "../tracking/memory_tracker.ts";

/**
 * One allocation, shared by its owning DeviceBuffer and every view of it. It is also its own
 * node on the tracker's live list, so tracking a buffer costs no extra object.
 */
export interface Allocation extends TrackerNode {
  /** Start address. */
  readonly address: bigint;
  /** Bytes allocated. */
  readonly bytes: number;
  /** The resource to give the memory back to. */
  readonly resource: MemoryResource;
  /** The stream the allocation was ordered on, if any (the free is ordered on it too). */
  readonly stream: Stream | undefined;
  /** The block, when the resource has the block fast path (then freed without an address lookup). */
  readonly block: ResourceBlock | undefined;
  /** The label given at allocation, for reports. */
  readonly label: string | undefined;
  /** The tracker it was reported to (undefined when none was active). */
  readonly tracker: MemoryTracker | undefined;
  /** Set once the memory went back to its resource: every use after that throws. */
  freed: boolean;
  /** Set while the collection net has the owner registered (see collection_net.ts). */
  watched: boolean;
}

/** Gives the allocation's memory back once; later calls do nothing. */
export function releaseAllocation(allocation: Allocation): void {
  if (allocation.freed) return;
  allocation.freed = true;
  if (allocation.tracker !== undefined) allocation.tracker.untrack(allocation);
  if (allocation.bytes === 0) return;
  const { resource, address, bytes, block } = allocation;
  const stream = allocation.stream && !allocation.stream.closed ? allocation.stream : undefined;
  if (block !== undefined && isBlockResource(resource)) resource.deallocateBlock(block, stream);
  else resource.deallocate(address, bytes, stream);
}
