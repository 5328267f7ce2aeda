/**
 * The tracker DeviceBuffer reports to: one per process at a time (the manager installs its own).
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import { MemoryTracker } from "./memory_tracker.ts";
import { flushTrackerNurseries } from "./nursery.ts";

let active: MemoryTracker | null = null;

/** The tracker allocations are reported to now, or null. */
export function activeTracker(): MemoryTracker | null {
  return active;
}

/**
 * Makes `tracker` the one allocations are reported to (null: none); returns the previous one.
 * InvalidArgumentError for anything else (a stand-in object would fail later, in a microtask).
 */
export function setActiveTracker(tracker: MemoryTracker | null): MemoryTracker | null {
  if (tracker !== null && !(tracker instanceof MemoryTracker)) {
    throw new InvalidArgumentError("tracker", "a MemoryTracker or null", tracker);
  }
  // New buffers not yet counted belong to the tracker active when they were made.
  flushTrackerNurseries();
  const previous = active;
  active = tracker;
  return previous;
}
