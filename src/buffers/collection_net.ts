/**
 * The safety net behind DeviceBuffer: an owning buffer garbage-collected without free() has its
 * memory given back and is reported. Never the way to free memory: collection may come late or
 * never, and device memory runs out long before the JavaScript heap feels any pressure.
 *
 * Registering with a FinalizationRegistry and unregistering on free costs ~0.1 µs a buffer, as
 * much as a whole cached allocation should. So new owners wait in a nursery until the current
 * task ends (one microtask per batch), or until the nursery holds NURSERY_LIMIT of them, for a
 * long synchronous loop; only those still unfreed then are registered (and put on their tracker's
 * list of live allocations). A buffer allocated and freed soon after, the hot loop's case, never
 * touches the registry nor that list.
 *
 * @module
 */

import { formatBytes } from "../errors.ts";
import { type Allocation, releaseAllocation } from "./allocation.ts";
import { registerTrackerNursery } from "../tracking/memory_tracker.ts";

/** What is known of a buffer that was collected without free(). */
export interface CollectedBuffer {
  /** The device id, e.g. `cuda:0`. */
  device: string;
  /** Bytes the buffer held. */
  bytes: number;
  /** Its label, if it had one. */
  label: string | undefined;
  /** Where it was allocated, when the tracker captured sites. */
  site?: string;
  /** Set when giving the memory back failed. */
  error?: unknown;
}

/** Receives each buffer collected without free(). */
export type CollectedBufferReporter = (buffer: CollectedBuffer) => void;

const defaultReporter: CollectedBufferReporter = (buffer) => {
  const name = (buffer.label === undefined ? "" : ` "${buffer.label}"`) +
    (buffer.site === undefined ? "" : ` allocated at ${buffer.site}`);
  const outcome = buffer.error === undefined
    ? "its memory was freed now"
    : `freeing failed: ${buffer.error}`;
  console.warn(
    `gpumem: a DeviceBuffer${name} (${buffer.device}, ${formatBytes(buffer.bytes)}) was ` +
      `garbage-collected without free(); ${outcome}. Free buffers with \`using\` or free().`,
  );
};

let reporter: CollectedBufferReporter = defaultReporter;

const registry = new FinalizationRegistry<Allocation>((allocation) => {
  if (allocation.freed) return;
  let error: unknown;
  const site = allocation.trackSite;
  try {
    releaseAllocation(allocation);
  } catch (caught) {
    error = caught;
  }
  reporter({
    device: allocation.resource.device.id,
    bytes: allocation.bytes,
    label: allocation.label,
    ...(site === undefined ? {} : { site }),
    ...(error === undefined ? {} : { error }),
  });
});

/**
 * Replaces the function told about buffers collected without free() (the default warns on the
 * console); returns the previous one. The tracker installs its own.
 */
export function setCollectedBufferReporter(next: CollectedBufferReporter): CollectedBufferReporter {
  const previous = reporter;
  reporter = next;
  return previous;
}

/** Owners the nursery holds before it is swept without waiting for the task's end. */
const NURSERY_LIMIT = 1024;
const nurseryOwners: object[] = [];
const nurseryAllocations: Allocation[] = [];
let sweepQueued = false;

/**
 * Registers the nursery's buffers that are still unfreed, hands them to their tracker's list of
 * live allocations (the tracker counted them at allocation, see MemoryTracker.track), and
 * empties the nursery.
 */
function sweepNursery(): void {
  for (let i = 0; i < nurseryOwners.length; i++) {
    const allocation = nurseryAllocations[i];
    if (allocation.freed) continue;
    registry.register(nurseryOwners[i], allocation, allocation);
    allocation.watched = true;
    allocation.tracker?.adopt(allocation);
  }
  nurseryOwners.length = 0;
  nurseryAllocations.length = 0;
}

registerTrackerNursery(sweepNursery);

function endOfTask(): void {
  sweepQueued = false;
  sweepNursery();
}

/** Starts watching `owner`: if it is collected while `allocation` is live, the net frees it. */
export function watchOwner(owner: object, allocation: Allocation): void {
  if (nurseryOwners.length >= NURSERY_LIMIT) sweepNursery();
  nurseryOwners.push(owner);
  nurseryAllocations.push(allocation);
  if (!sweepQueued) {
    sweepQueued = true;
    queueMicrotask(endOfTask);
  }
}

/** Stops watching the owner of `allocation` (it was freed properly). */
export function unwatchOwner(allocation: Allocation): void {
  if (!allocation.watched) return;
  allocation.watched = false;
  registry.unregister(allocation);
}
