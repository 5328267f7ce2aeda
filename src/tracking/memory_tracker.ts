/**
 * MemoryTracker: live allocations by label (always on once installed, cheap), allocation sites
 * (opt-in, or sampled), scopes, reports people can act on, and an event log exportable as a
 * replayable trace.
 *
 * @module
 */

import { formatBytes, GpumemError, InvalidArgumentError } from "../errors.ts";
import type { Trace, TraceEvent } from "../replay/trace.ts";

/** What the tracker records of each allocation. */
export interface TrackedAllocation {
  /** Sequence number, unique in the process. */
  readonly id: number;
  /** Bytes requested. */
  readonly bytes: number;
  /** Device id, e.g. `cuda:0`. */
  readonly device: string;
  /** Label, or "(unlabelled)". */
  readonly label: string;
  /** Where it was allocated (a stack line), when site capture took it. */
  readonly site: string | undefined;
  /** performance.now() at allocation when the tracker takes timestamps, else NaN. */
  readonly time: number;
  /** A number naming the stream (0: none or the legacy default stream). */
  readonly stream: number;
}

/** How much the tracker records of where allocations come from. */
export type SiteCapture = "off" | "on" | { sample: number };

/** Options for {@linkcode MemoryTracker}. */
export interface MemoryTrackerOptions {
  /** Allocation sites: "off" (default), "on", or one in `sample` allocations. */
  sites?: SiteCapture;
  /** Events kept in the event log (default 65,536; 0 turns the event log off). */
  eventCapacity?: number;
  /**
   * Take performance.now() at each allocation and free (default false: it costs ~0.09 µs a call,
   * as much as the rest of the tracking together).
   */
  timestamps?: boolean;
}

/** A live record, threaded on the tracker's list (unlinking is O(1), no hashing). */
interface LiveRecord extends TrackedAllocation {
  prev: LiveRecord | null;
  next: LiveRecord | null;
  live: boolean;
}

/** One row of a report: what is live under one label (and site). */
export interface ReportRow {
  /** The label. */
  label: string;
  /** The site, when captured. */
  site: string | undefined;
  /** Live allocations. */
  count: number;
  /** Live bytes. */
  bytes: number;
}

/** A report: rows largest first, and a readable table. */
export interface MemoryReport {
  /** Live allocations in all. */
  count: number;
  /** Live bytes in all. */
  bytes: number;
  /** Grouped by label and site, largest first. */
  rows: ReportRow[];
  /** The same as an aligned text table. */
  text: string;
}

const UNLABELLED = "(unlabelled)";

/**
 * Tracks allocations reported to it (DeviceBuffer reports every allocation and free to the
 * process's active tracker, see getMemoryManager).
 *
 * @example
 * ```ts
 * import { MemoryTracker } from "@gpumem/gpumem";
 * const tracker = new MemoryTracker();
 * const record = tracker.recordAllocation(1024, "cpu", "mesh.vertices");
 * console.log(tracker.report().text);
 * tracker.recordFree(record);
 * tracker.assertNoLeaks();
 * ```
 */
export class MemoryTracker {
  #head: LiveRecord | null = null;
  #tail: LiveRecord | null = null;
  readonly #timestamps: boolean;
  readonly #byLabel = new Map<string, { count: number; bytes: number }>();
  #sites: SiteCapture;
  #sampleCountdown = 0;
  #nextId = 0;
  // The event log: a ring of [op, id, size, stream] as in shared/traces, with times and labels.
  readonly #capacity: number;
  readonly #ops: Uint8Array;
  readonly #ids: Float64Array;
  readonly #sizes: Float64Array;
  readonly #streams: Float64Array;
  readonly #times: Float64Array;
  #written = 0;

  /** A tracker; see {@linkcode MemoryTrackerOptions}. */
  constructor(options: MemoryTrackerOptions = {}) {
    this.#sites = checkSites(options.sites ?? "off");
    this.#timestamps = options.timestamps === true;
    const capacity = options.eventCapacity ?? 65536;
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new InvalidArgumentError("eventCapacity", "a non-negative integer", capacity);
    }
    this.#capacity = capacity;
    this.#ops = new Uint8Array(capacity);
    this.#ids = new Float64Array(capacity);
    this.#sizes = new Float64Array(capacity);
    this.#streams = new Float64Array(capacity);
    this.#times = new Float64Array(capacity);
  }

  /** How sites are captured now. */
  get sites(): SiteCapture {
    return this.#sites;
  }

  /** Changes site capture. */
  set sites(value: SiteCapture) {
    this.#sites = checkSites(value);
  }

  /** Records an allocation; returns the record to pass to {@linkcode MemoryTracker.recordFree}. */
  recordAllocation(bytes: number, device: string, label?: string, stream = 0): TrackedAllocation {
    const name = label ?? UNLABELLED;
    const record: LiveRecord = {
      id: this.#nextId++,
      bytes,
      device,
      label: name,
      site: this.#sites === "off" ? undefined : this.#captureSite(),
      time: this.#timestamps ? performance.now() : NaN,
      stream,
      prev: this.#tail,
      next: null,
      live: true,
    };
    if (this.#tail === null) this.#head = record;
    else this.#tail.next = record;
    this.#tail = record;
    const counts = this.#byLabel.get(name);
    if (counts === undefined) this.#byLabel.set(name, { count: 1, bytes });
    else {
      counts.count++;
      counts.bytes += bytes;
    }
    this.#log(0, record.id, bytes, stream, record.time);
    return record;
  }

  /** Records the free of an allocation recorded earlier (a second free is ignored). */
  recordFree(allocation: TrackedAllocation): void {
    const record = allocation as LiveRecord;
    if (record.live !== true) return;
    record.live = false;
    if (record.prev === null) this.#head = record.next;
    else record.prev.next = record.next;
    if (record.next === null) this.#tail = record.prev;
    else record.next.prev = record.prev;
    record.prev = record.next = null;
    const counts = this.#byLabel.get(record.label)!;
    counts.count--;
    counts.bytes -= record.bytes;
    this.#log(1, record.id, 0, record.stream, this.#timestamps ? performance.now() : NaN);
  }

  /** Every live allocation, oldest first. */
  live(): TrackedAllocation[] {
    const live: TrackedAllocation[] = [];
    for (let record = this.#head; record !== null; record = record.next) {
      const { prev: _prev, next: _next, live: _live, ...fields } = record;
      live.push(fields);
    }
    return live;
  }

  /** Live allocations and bytes under `label` (cheap: kept always). */
  liveByLabel(label: string): { count: number; bytes: number } {
    const counts = this.#byLabel.get(label);
    return counts === undefined ? { count: 0, bytes: 0 } : { ...counts };
  }

  /** What is live, grouped by label and site, largest first; `filter` picks allocations. */
  report(filter: (allocation: TrackedAllocation) => boolean = () => true): MemoryReport {
    const groups = new Map<string, ReportRow>();
    let count = 0;
    let bytes = 0;
    for (let allocation = this.#head; allocation !== null; allocation = allocation.next) {
      if (!filter(allocation)) continue;
      count++;
      bytes += allocation.bytes;
      const key = `${allocation.label}\u0000${allocation.site ?? ""}`;
      const row = groups.get(key) ??
        { label: allocation.label, site: allocation.site, count: 0, bytes: 0 };
      row.count++;
      row.bytes += allocation.bytes;
      groups.set(key, row);
    }
    const rows = [...groups.values()].sort((a, b) => b.bytes - a.bytes);
    const lines = [
      `${count} live allocations, ${formatBytes(bytes)}`,
      ...rows.map((row) =>
        `  ${formatBytes(row.bytes).padStart(11)}  ${
          String(row.count).padStart(6)
        } × ${row.label}` +
        (row.site ? `  at ${row.site}` : "")
      ),
    ];
    return { count, bytes, rows, text: lines.join("\n") };
  }

  /** Throws GpumemError with the report when anything matching `filter` is still live. */
  assertNoLeaks(filter?: (allocation: TrackedAllocation) => boolean): void {
    const report = this.report(filter);
    if (report.count > 0) throw new GpumemError(`memory leaked: ${report.text}`);
  }

  /**
   * A scope: what is allocated inside it and still live when it ends is reported (to `onLeak`,
   * default console.warn) and available as `scope.leaks()`.
   */
  scope(
    name: string,
    onLeak: (report: MemoryReport) => void = defaultLeakWarning(name),
  ): TrackerScope {
    return new TrackerScope(this, name, this.#nextId, onLeak);
  }

  /** The event log as a trace in the format of shared/traces (replayable with replayTrace). */
  exportTrace(workload = "gpumem"): Trace {
    const kept = Math.min(this.#written, this.#capacity);
    if (this.#written > this.#capacity) {
      throw new GpumemError(
        `the event log overflowed (${this.#written} events, capacity ${this.#capacity}); ` +
          "create the tracker with a larger eventCapacity to export a whole run",
      );
    }
    const events: TraceEvent[] = [];
    let live = 0;
    let peak = 0;
    const sizes = new Map<number, number>();
    for (let i = 0; i < kept; i++) {
      const id = this.#ids[i];
      if (this.#ops[i] === 0) {
        events.push(["a", id, this.#sizes[i], this.#streams[i]]);
        sizes.set(id, this.#sizes[i]);
        live += this.#sizes[i];
        peak = Math.max(peak, live);
      } else if (sizes.has(id)) {
        events.push(["f", id, 0, this.#streams[i]]);
        live -= sizes.get(id)!;
        sizes.delete(id);
      }
    }
    return { workload, events, peak_live: peak };
  }

  /** Events recorded since creation (the log keeps the first `eventCapacity`). */
  get eventCount(): number {
    return this.#written;
  }

  /** Sequence number the next allocation will get (scopes use it). */
  get nextId(): number {
    return this.#nextId;
  }

  #log(op: number, id: number, size: number, stream: number, time: number): void {
    if (this.#capacity === 0) return;
    const at = this.#written++;
    if (at >= this.#capacity) return;
    this.#ops[at] = op;
    this.#ids[at] = id;
    this.#sizes[at] = size;
    this.#streams[at] = stream;
    this.#times[at] = time;
  }

  #captureSite(): string | undefined {
    const sites = this.#sites;
    if (sites !== "on" && sites !== "off") {
      if (this.#sampleCountdown-- > 0) return undefined;
      this.#sampleCountdown = sites.sample - 1;
    }
    return siteOf(new Error().stack ?? "");
  }
}

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

function defaultLeakWarning(name: string): (report: MemoryReport) => void {
  return (report) =>
    console.warn(`gpumem: scope "${name}" ended with memory still live:\n${report.text}`);
}

function checkSites(value: SiteCapture): SiteCapture {
  if (value === "off" || value === "on") return value;
  if (
    typeof value === "object" && value !== null && Number.isSafeInteger(value.sample) &&
    value.sample >= 1
  ) {
    return { sample: value.sample };
  }
  throw new InvalidArgumentError("sites", '"off", "on" or { sample: N ≥ 1 }', value);
}

/** The first stack frame outside gpumem's own source: the user's line. */
function siteOf(stack: string): string | undefined {
  for (const line of stack.split("\n").slice(1)) {
    const frame = line.trim().replace(/^at /, "");
    if (!/\/src\/(tracking|buffers|memory|manager)\//.test(frame)) return frame;
  }
  return undefined;
}
