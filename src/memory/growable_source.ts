/**
 * What ResizableBuffer's "vmm" strategy needs of a resource: address ranges reserved once whose
 * memory maps in and out in place (a MemoryPool over CUDA VMM or host mmap provides them).
 *
 * @module
 */

import type { GrowableRange } from "./pool/growable_range.ts";
import type { MemoryResource } from "./resource.ts";

/** A resource that reserves ranges whose memory grows and shrinks in place. */
export interface GrowableSource extends MemoryResource {
  /** Whether reserveGrowable works here (its upstream can map memory in place). */
  readonly growsInPlace: boolean;
  /** A range of `maxBytes` of address space whose mapped memory is counted by this resource. */
  reserveGrowable(maxBytes: number, label?: string): GrowableRange;
}

/** Whether `resource` can reserve growable ranges. */
export function isGrowableSource(resource: MemoryResource): resource is GrowableSource {
  const r = resource as Partial<GrowableSource>;
  return typeof r.reserveGrowable === "function" && r.growsInPlace === true;
}
