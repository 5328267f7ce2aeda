/**
 * Nurseries: places that hold new allocations and, flushed, have the active tracker count those
 * still live (DeviceBuffer's collection net). One registry, flushed before every read of a
 * tracker and every change of what it records.
 *
 * @module
 */

/** Flushes of the nurseries holding new buffers (see registerTrackerNursery). */
const nurseries: (() => void)[] = [];

/**
 * Registers a nursery: something that holds new allocations and, when flushed, has the active
 * tracker count the ones still live (DeviceBuffer's collection net: see
 * {@linkcode MemoryTracker.recordsAtAllocation}). Every read of a tracker flushes first, and so
 * does every change of the active tracker or of what it records, so no read misses a node.
 */
export function registerTrackerNursery(flush: () => void): void {
  nurseries.push(flush);
}

/** Flushes every registered nursery (see {@linkcode registerTrackerNursery}). */
export function flushTrackerNurseries(): void {
  for (const flush of nurseries) flush();
}
