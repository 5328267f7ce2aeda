/**
 * Scopes: a stretch of a program whose allocations still live at its end are reported.
 *
 * @module
 */

import type { MemoryTracker } from "./memory_tracker.ts";
import type { MemoryReport } from "./report.ts";

/** The allocations of one stretch of a program; see {@linkcode MemoryTracker.scope}. */
export class TrackerScope {
  /** The scope's name. */
  readonly name: string;
  readonly #tracker: MemoryTracker;
  readonly #firstId: number;
  readonly #onLeak: (report: MemoryReport) => void;
  #ended = false;

  /** Use {@linkcode MemoryTracker.scope}. */
  constructor(
    tracker: MemoryTracker,
    name: string,
    firstId: number,
    onLeak: (report: MemoryReport) => void,
  ) {
    this.#tracker = tracker;
    this.name = name;
    this.#firstId = firstId;
    this.#onLeak = onLeak;
  }

  /** What was allocated in the scope (so far) and is still live. */
  leaks(): MemoryReport {
    return this.#tracker.report((allocation) => allocation.id >= this.#firstId);
  }

  /** Ends the scope: reports what it allocated that is still live. Idempotent. */
  [Symbol.dispose](): void {
    if (this.#ended) return;
    this.#ended = true;
    const report = this.leaks();
    if (report.count > 0) this.#onLeak(report);
  }
}

/** The default report of a scope's leaks: a console warning. */
export function defaultLeakWarning(name: string): (report: MemoryReport) => void {
  return (report) =>
    console.warn(`gpumem: scope "${name}" ended with memory still live:\n${report.text}`);
}
