/**
 * The safety net behind DeviceBuffer: an owning buffer garbage-collected without free() has its
 * memory given back and is reported. Never the way to free memory: collection may come late or
 * never, and device memory runs out long before the JavaScript heap feels any pressure.
 *
 * @module
 */

import { formatBytes } from "../errors.ts";
import { type Allocation, releaseAllocation } from "./allocation.ts";

/** What is known of a buffer that was collected without free(). */
export interface CollectedBuffer {
  /** The device id, e.g. `cuda:0`. */
  device: string;
  /** Bytes the buffer held. */
  bytes: number;
  /** Its label, if it had one. */
  label: string | undefined;
  /** Set when giving the memory back failed. */
  error?: unknown;
}

/** Receives each buffer collected without free(). */
export type CollectedBufferReporter = (buffer: CollectedBuffer) => void;

const defaultReporter: CollectedBufferReporter = (buffer) => {
  const name = buffer.label === undefined ? "" : ` "${buffer.label}"`;
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
  try {
    releaseAllocation(allocation);
  } catch (caught) {
    error = caught;
  }
  reporter({
    device: allocation.resource.device.id,
    bytes: allocation.bytes,
    label: allocation.label,
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

/** Starts watching `owner`: if it is collected while `allocation` is live, the net frees it. */
export function watchOwner(owner: object, allocation: Allocation): void {
  registry.register(owner, allocation, allocation);
}

/** Stops watching the owner of `allocation` (it was freed properly). */
export function unwatchOwner(allocation: Allocation): void {
  registry.unregister(allocation);
}
