/**
 * The safety net behind DeviceBuffer: an owning buffer garbage-collected without free() has its
 * memory given back and is reported. Never the way to free memory: collection may come late or
 * never, and device memory runs out long before the JavaScript heap feels any pressure.
 *
 * Registering with a FinalizationRegistry and unregistering on free costs ~0.1 µs a buffer, as
 * much as a whole cached allocation should. So new owners wait in a nursery until the current
 * task ends (one microtask per batch), or until the nursery holds NURSERY_LIMIT of them, for a
 * long synchronous loop; the owner's survival handler then makes a record of those still unfreed,
 * which is registered and counted by the active tracker (see MemoryTracker.recordsAtAllocation).
 * A buffer freed soon after it was made, the hot loop's case, is taken off the nursery's top at
 * once: it never touches the registry nor the tracker, and the nursery holds nothing for the
 * garbage collector to copy.
 *
 * @module
 */

import { formatBytes } from "../errors.ts";
import { type AllocationRecord, releaseRecord } from "./allocation.ts";
import { activeTracker } from "../tracking/active_tracker.ts";
import { registerTrackerNursery } from "../tracking/nursery.ts";

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

const registry = new FinalizationRegistry<AllocationRecord>((record) => {
  if (record.freed) return;
  let error: unknown;
  const site = record.trackSite;
  try {
    releaseRecord(record);
  } catch (caught) {
    error = caught;
  }
  reporter({
    device: record.resource.device.id,
    bytes: record.byteLength,
    label: record.label,
    ...(site === undefined ? {} : { site }),
    ...(error === undefined ? {} : { error }),
  });
});

/** Tells the reporter about a buffer (of any kind gpumem has) collected without free(). */
export function reportCollected(buffer: CollectedBuffer): void {
  reporter(buffer);
}

/**
 * Replaces the function told about buffers collected without free() (the default warns on the
 * console); returns the previous one. The tracker installs its own.
 */
export function setCollectedBufferReporter(next: CollectedBufferReporter): CollectedBufferReporter {
  const previous = reporter;
  reporter = next;
  return previous;
}

/**
 * Called at each sweep for every owner still in the nursery: it returns the owner's record (made
 * now) if the owner is still unfreed, else null.
 */
export type SurvivalHandler = (owner: object) => AllocationRecord | null;

let survive: SurvivalHandler = () => null;

/** Installs the handler the nursery calls for its survivors (DeviceBuffer installs its own). */
export function setSurvivalHandler(handler: SurvivalHandler): void {
  survive = handler;
}

/** Owners the nursery holds before it is swept without waiting for the task's end. */
const NURSERY_LIMIT = 1024;
// A fixed array filled from the start: emptying a JS array with `length = 0` drops its storage,
// and growing it again costs more than the stores.
const nursery: (object | undefined)[] = new Array(NURSERY_LIMIT).fill(undefined);
let nurseryCount = 0;
let sweepQueued = false;

/**
 * Registers the nursery's owners that are still unfreed, has the active tracker count them (the
 * one active when they were made: changing it flushes first) or list them, if it counted them at
 * allocation already, and empties the nursery.
 */
function sweepNursery(): void {
  const count = nurseryCount;
  nurseryCount = 0;
  for (let i = 0; i < count; i++) {
    const owner = nursery[i]!;
    nursery[i] = undefined; // the nursery must not keep a lost buffer from being collected
    const record = survive(owner);
    if (record === null) continue;
    registry.register(owner, record, record);
    const entry = record.trackEntry;
    if (entry !== null) entry.tracker.adopt(record);
    else activeTracker()?.track(record, record.resource.device.id, record.label);
  }
}

registerTrackerNursery(sweepNursery);

function endOfTask(): void {
  sweepQueued = false;
  sweepNursery();
}

/** Starts watching a new owner: the survival handler is asked about it when its task ends. */
export function watchNewOwner(owner: object): void {
  if (nurseryCount === NURSERY_LIMIT) sweepNursery();
  nursery[nurseryCount++] = owner;
  if (!sweepQueued) {
    sweepQueued = true;
    queueMicrotask(endOfTask);
  }
}

/**
 * Stops watching an owner freed before it had a record. The one on the nursery's top (freed
 * right after it was made) is taken off; one deeper is skipped at the sweep by the handler.
 */
export function forgetNewOwner(owner: object): void {
  const top = nurseryCount - 1;
  if (top >= 0 && nursery[top] === owner) {
    nursery[top] = undefined;
    nurseryCount = top;
  }
}

/** Stops watching the owner of `record` (it was freed properly). */
export function unwatchRecord(record: AllocationRecord): void {
  registry.unregister(record);
}
