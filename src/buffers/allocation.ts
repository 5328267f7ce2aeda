/**
 * The record kept of an owning DeviceBuffer that outlived the task that made it: what the
 * collection net needs to give its memory back if the buffer is collected unfreed, and the node
 * the tracker lists it under. A buffer freed within its task never gets one (see
 * collection_net.ts), so the hot loop allocates no record at all.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import { isBlockResource, type MemoryResource, type ResourceBlock } from "../memory/resource.ts";
import { MemoryTracker } from "../tracking/memory_tracker.ts";
import type { TrackerNode } from "../tracking/tracker_node.ts";

/** One live allocation of an owning buffer, and its tracker node (`byteLength`: its size). */
export interface AllocationRecord extends TrackerNode {
  /** Start address. */
  readonly address: bigint;
  /** The resource to give the memory back to. */
  readonly resource: MemoryResource;
  /** The stream the allocation was ordered on, if any (the free is ordered on it too). */
  readonly stream: Stream | undefined;
  /** The block, when the resource has the block fast path (then freed without an address lookup). */
  readonly block: ResourceBlock | undefined;
  /** The label given at allocation, for reports. */
  readonly label: string | undefined;
  /** Set once the memory went back to its resource. */
  freed: boolean;
}

/**
 * Gives `bytes` at `address` (or `block`) back to `resource`, ordered on `stream` unless it was
 * closed meanwhile (then the free is unordered, as the stream's work is done).
 */
export function giveBack(
  resource: MemoryResource,
  address: bigint,
  bytes: number,
  block: ResourceBlock | undefined,
  stream: Stream | undefined,
): void {
  if (bytes === 0) return;
  const on = stream !== undefined && !stream.closed ? stream : undefined;
  if (block !== undefined && isBlockResource(resource)) resource.deallocateBlock(block, on);
  else resource.deallocate(address, bytes, on);
}

/** Frees a record's memory once (later calls do nothing) and untracks it. */
export function releaseRecord(record: AllocationRecord): void {
  if (record.freed) return;
  record.freed = true;
  MemoryTracker.untrackNode(record);
  giveBack(record.resource, record.address, record.byteLength, record.block, record.stream);
}
