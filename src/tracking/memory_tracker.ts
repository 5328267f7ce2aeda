/**
 * MemoryTracker: live allocations by label (always on once installed, cheap), allocation sites
 * (opt-in, or sampled), scopes, reports people can act on, and an event log exportable as a
 * replayable trace.
 *
 * @module
 */

import { formatBytes, GpumemError, InvalidArgumentError } from "../errors.ts";
import type { Trace, TraceEvent } from "./trace_format.ts";
import { checkByteCount, checkOptions } from "../validate.ts";

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
  /**
   * Allocation sites: "off" (default), "on", or one in `sample` allocations. A site is a stack
   * trace, ~30 µs in Deno; with sites on, every allocation is tracked as it happens.
   */
  sites?: SiteCapture;
  /**
   * Events the event log keeps, the latest ones (default 0: no log; see
   * {@linkcode MemoryTracker.startEventLog}). A log adds ~20 ns to a cached round trip of ~55 ns
   * (development machine), as every allocation is then tracked as it happens.
   */
  eventCapacity?: number;
  /**
   * Take performance.now() at each allocation and free (default false: it adds ~95 ns to a cached
   * round trip of ~55 ns).
   */
  timestamps?: boolean;
}

/** Live allocations and bytes under one label on one device (shared by their nodes). */
export interface LabelEntry {
  /** The label. */
  readonly label: string;
  /** The device id. */
  readonly device: string;
  /** Live allocations. */
  count: number;
  /** Live bytes. */
  bytes: number;
  /** The tracker that counts them (so a node's entry is all a free needs). */
  readonly tracker: MemoryTracker;
}

/**
 * What the tracker keeps of an allocation. DeviceBuffer's allocation record carries these fields
 * itself, so tracking a buffer allocates no object; label and device live once in the shared
 * entry, so tracking writes few fields.
 */
export interface TrackerNode {
  /** Bytes requested. */
  readonly byteLength: number;
  /** Sequence number. */
  trackId: number;
  /** Allocation site, when captured. */
  trackSite: string | undefined;
  /** performance.now() at allocation, when the tracker takes timestamps (else not read). */
  trackTime: number;
  /** Stream number for the event log. */
  trackStream: number;
  /** Its label's entry while it is live in a tracker; null otherwise. */
  trackEntry: LabelEntry | null;
}

/** The tracker's node array is compacted no sooner than at this length. */
const COMPACT_MIN = 1024;

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

/** The record {@linkcode MemoryTracker.recordAllocation} hands out. */
class StandaloneRecord implements TrackerNode, TrackedAllocation {
  readonly byteLength: number;
  readonly device: string;
  readonly label: string;
  trackId = -1;
  trackSite: string | undefined = undefined;
  trackTime = NaN;
  trackStream: number;
  trackEntry: LabelEntry | null = null;

  constructor(bytes: number, device: string, label: string | undefined, stream: number) {
    this.byteLength = bytes;
    this.device = device;
    this.label = label ?? UNLABELLED;
    this.trackStream = stream;
  }

  get id(): number {
    return this.trackId;
  }
  get bytes(): number {
    return this.byteLength;
  }
  get site(): string | undefined {
    return this.trackSite;
  }
  get time(): number {
    return this.trackTime;
  }
  get stream(): number {
    return this.trackStream;
  }
}

/**
 * A plain TrackedAllocation of a live node (for live() and report filters); its trackTime is
 * read only when the tracker takes timestamps (nodes start with 0 there: a NaN would make V8 box
 * the field in every buffer).
 */
function describeNode(
  node: TrackerNode,
  entry: LabelEntry,
  timestamps: boolean,
): TrackedAllocation {
  return {
    id: node.trackId,
    bytes: node.byteLength,
    device: entry.device,
    label: entry.label,
    site: node.trackSite,
    time: timestamps ? node.trackTime : NaN,
    stream: node.trackStream,
  };
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
 * process's active tracker, see getMemoryManager). Every read (live, liveByLabel, report, scope)
 * sees every buffer live at that moment; counting alone costs a buffer freed in the task that
 * made it nothing (see {@linkcode MemoryTracker.recordsAtAllocation}).
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
  /**
   * Nodes in allocation order, freed ones included until the next compaction: a free only clears
   * the node's entry (no unlinking), and the array is compacted when freed nodes outnumber live
   * ones, so both costs stay a few writes per allocation.
   */
  #nodes: TrackerNode[] = [];
  /** #nodes is compacted when it reaches this length (twice what the last compaction kept). */
  #compactAt = COMPACT_MIN;
  readonly #timestamps: boolean;
  /** Entries by device, then label. */
  readonly #entries = new Map<string, Map<string, LabelEntry>>();
  /** The last label and device counted, and their entry: a loop of one label skips the maps. */
  #lastLabel: string | undefined = undefined;
  #lastDevice = "";
  #lastEntry: LabelEntry | null = null;
  #sites: SiteCapture;
  /** Whether anything beyond counting is recorded per allocation (sites, timestamps, a log). */
  #detailed = false;
  #sampleCountdown = 0;
  #nextId = 0;
  // The event log: a ring of [op, id, size, stream] as in shared/traces, with times and labels.
  #capacity = 0;
  /** [op (0 allocate, 1 free), id, size, stream] per event, a ring of #capacity events. */
  #events = new Float64Array(0);
  /** performance.now() per event, when the tracker takes timestamps. */
  #times = new Float64Array(0);
  #written = 0;
  /** Where the next event goes in the ring. */
  #slot = 0;

  /** A tracker; see {@linkcode MemoryTrackerOptions}. */
  constructor(options: MemoryTrackerOptions = {}) {
    checkOptions(options);
    if (options.timestamps !== undefined && typeof options.timestamps !== "boolean") {
      throw new InvalidArgumentError("options.timestamps", "a boolean", options.timestamps);
    }
    this.#sites = checkSites(options.sites ?? "off");
    this.#timestamps = options.timestamps === true;
    this.#updateDetailed();
    if (options.eventCapacity !== undefined && options.eventCapacity !== 0) {
      this.startEventLog(options.eventCapacity);
    } else if (options.eventCapacity !== undefined) checkCapacity(options.eventCapacity);
  }

  /**
   * Starts an empty event log keeping the latest `capacity` allocate and free events (any earlier
   * log is dropped), for {@linkcode MemoryTracker.exportTrace}.
   */
  startEventLog(capacity = 65536): void {
    checkCapacity(capacity);
    // The arrays first: if they cannot be had, the tracker is left as it was.
    let events: Float64Array<ArrayBuffer>, times: Float64Array<ArrayBuffer>;
    try {
      events = new Float64Array(4 * capacity);
      times = new Float64Array(this.#timestamps ? capacity : 0);
    } catch (error) {
      throw new GpumemError(
        `an event log of ${capacity} events (${formatBytes(32 * capacity)}) could not be allocated`,
        { cause: error },
      );
    }
    this.#capacity = capacity;
    this.#updateDetailed();
    this.#events = events;
    this.#times = times;
    this.#written = 0;
    this.#slot = 0;
  }

  /** Stops and drops the event log. */
  stopEventLog(): void {
    this.#capacity = 0;
    this.#updateDetailed();
    this.#events = new Float64Array(0);
    this.#times = new Float64Array(0);
    this.#written = 0;
    this.#slot = 0;
  }

  /** How sites are captured now. */
  get sites(): SiteCapture {
    return this.#sites;
  }

  /** Changes site capture. */
  set sites(value: SiteCapture) {
    this.#sites = checkSites(value);
    this.#updateDetailed();
  }

  /** Records an allocation; returns the record to pass to {@linkcode MemoryTracker.recordFree}. */
  recordAllocation(bytes: number, device: string, label?: string, stream = 0): TrackedAllocation {
    checkByteCount(bytes, "bytes");
    if (typeof device !== "string" || device.length === 0) {
      throw new InvalidArgumentError("device", 'a device id such as "cuda:0"', device);
    }
    if (label !== undefined && typeof label !== "string") {
      throw new InvalidArgumentError("label", "a string", label);
    }
    if (!Number.isSafeInteger(stream) || stream < 0) {
      throw new InvalidArgumentError("stream", "a non-negative integer", stream);
    }
    const record = new StandaloneRecord(bytes, device, label, stream);
    this.track(record, device, label);
    return record;
  }

  /** Records the free of an allocation recorded earlier (a second free is ignored). */
  recordFree(allocation: TrackedAllocation): void {
    if (allocation instanceof StandaloneRecord) this.untrack(allocation);
  }

  /**
   * Records `node` as live: counted and on the list of live nodes (the collection net's sweep
   * does this for a buffer that outlived its task); its trackStream is logged as the stream. A
   * node already live is left alone.
   */
  track(node: TrackerNode, device: string, label: string | undefined): void {
    if (node.trackEntry !== null) return;
    this.trackNew(node, device, label);
    this.adopt(node);
  }

  /**
   * Counts a node never tracked before, without listing it: DeviceBuffer's allocation path when
   * the tracker {@linkcode MemoryTracker.recordsAtAllocation}, whose nursery later hands the
   * buffers still unfreed to {@linkcode MemoryTracker.adopt}. Kept to the counting writes.
   */
  trackNew(node: TrackerNode, device: string, label: string | undefined): void {
    let entry = this.#lastEntry;
    if (label !== this.#lastLabel || device !== this.#lastDevice || entry === null) {
      entry = this.#entryFor(device, label ?? UNLABELLED);
      this.#lastLabel = label;
      this.#lastDevice = device;
      this.#lastEntry = entry;
    }
    entry.count++;
    entry.bytes += node.byteLength;
    node.trackEntry = entry;
    node.trackId = this.#nextId++;
    if (this.#detailed) this.#recordDetails(node);
  }

  /**
   * Whether allocations must be tracked as they happen: sites, timestamps or the event log are
   * on, and they belong to the moment of allocation. Otherwise, since label counts are all that
   * is kept, DeviceBuffer leaves its new buffers to the collection net's nursery, which has the
   * tracker count the ones still live when their task ends or when anything reads the tracker:
   * a buffer freed in the task that made it (a hot loop's) would only have gone up and down by
   * one before anyone could look, and costs the tracker nothing.
   */
  get recordsAtAllocation(): boolean {
    return this.#detailed;
  }

  #updateDetailed(): void {
    const detailed = this.#sites !== "off" || this.#timestamps || this.#capacity !== 0;
    if (detailed === this.#detailed) return;
    // Nodes waiting in a nursery were allocated under the old setting: count them under it.
    flushTrackerNurseries();
    this.#detailed = detailed;
  }

  /** Sites, timestamps and the event log of an allocation: opt-in, so off the counting path. */
  #recordDetails(node: TrackerNode): void {
    if (this.#sites !== "off") node.trackSite = this.#captureSite();
    if (this.#timestamps) node.trackTime = performance.now();
    if (this.#capacity !== 0) {
      this.#log(0, node.trackId, node.byteLength, node.trackStream, node.trackTime);
    }
  }

  /** Records `node` as freed (a node not live here is ignored). */
  untrack(node: TrackerNode): void {
    if (node.trackEntry?.tracker === this) MemoryTracker.untrackNode(node);
  }

  /**
   * Records `node` as freed by the tracker that counted it, if any: the free path of every
   * tracked buffer, which then needs to keep no tracker of its own.
   */
  static untrackNode(node: TrackerNode): void {
    const entry = node.trackEntry;
    if (entry === null) return;
    node.trackEntry = null;
    entry.count--;
    entry.bytes -= node.byteLength;
    const tracker = entry.tracker;
    if (tracker.#capacity !== 0) {
      tracker.#log(
        1,
        node.trackId,
        0,
        node.trackStream,
        tracker.#timestamps ? performance.now() : NaN,
      );
    }
  }

  /** Puts a live node counted by {@linkcode MemoryTracker.trackNew} on the list of live nodes. */
  adopt(node: TrackerNode): void {
    if (node.trackEntry === null) return;
    const nodes = this.#nodes;
    if (nodes.length >= this.#compactAt) this.#compact();
    nodes.push(node);
  }

  /** Drops freed nodes from #nodes, keeping allocation order. */
  #compact(): void {
    const nodes = this.#nodes;
    let kept = 0;
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i];
      if (node.trackEntry !== null) nodes[kept++] = node;
    }
    nodes.length = kept;
    this.#compactAt = Math.max(COMPACT_MIN, 2 * kept);
  }

  #entryFor(device: string, label: string): LabelEntry {
    let labels = this.#entries.get(device);
    if (labels === undefined) {
      labels = new Map();
      this.#entries.set(device, labels);
    }
    let entry = labels.get(label);
    if (entry === undefined) {
      entry = { label, device, count: 0, bytes: 0, tracker: this };
      labels.set(label, entry);
    }
    return entry;
  }

  /** Every live allocation, oldest first. */
  live(): TrackedAllocation[] {
    flushTrackerNurseries();
    this.#compact();
    return this.#nodes.map((node) => describeNode(node, node.trackEntry!, this.#timestamps));
  }

  /** Live allocations and bytes under `label` (cheap: kept always). */
  liveByLabel(label: string): { count: number; bytes: number } {
    flushTrackerNurseries();
    let count = 0;
    let bytes = 0;
    for (const labels of this.#entries.values()) {
      const entry = labels.get(label);
      if (entry !== undefined) {
        count += entry.count;
        bytes += entry.bytes;
      }
    }
    return { count, bytes };
  }

  /** What is live, grouped by label and site, largest first; `filter` picks allocations. */
  report(filter: (allocation: TrackedAllocation) => boolean = () => true): MemoryReport {
    const groups = new Map<string, ReportRow>();
    let count = 0;
    let bytes = 0;
    flushTrackerNurseries();
    this.#compact();
    for (const node of this.#nodes) {
      const allocation = describeNode(node, node.trackEntry!, this.#timestamps);
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
    if (typeof name !== "string") throw new InvalidArgumentError("name", "a string", name);
    if (typeof onLeak !== "function") {
      throw new InvalidArgumentError("onLeak", "a function", onLeak);
    }
    return new TrackerScope(this, name, this.nextId, onLeak);
  }

  /** The event log as a trace in the format of shared/traces (replayable with replayTrace). */
  exportTrace(workload = "gpumem"): Trace {
    const kept = Math.min(this.#written, this.#capacity);
    const oldest = this.#written - kept;
    const events: TraceEvent[] = [];
    let live = 0;
    let peak = 0;
    const sizes = new Map<number, number>();
    for (let n = oldest; n < this.#written; n++) {
      const at = 4 * (n % this.#capacity); // cold path: the division is fine here
      const [op, id, size, stream] = this.#events.subarray(at, at + 4);
      if (op === 0) {
        events.push(["a", id, size, stream]);
        sizes.set(id, size);
        live += size;
        peak = Math.max(peak, live);
      } else if (sizes.has(id)) {
        // Frees of allocations older than the ring's window are left out with them.
        events.push(["f", id, 0, stream]);
        live -= sizes.get(id)!;
        sizes.delete(id);
      }
    }
    return { workload, events, peak_live: peak };
  }

  /** Events recorded since the log started (it keeps the latest `eventCapacity`). */
  get eventCount(): number {
    return this.#written;
  }

  /** Sequence number the next allocation will get (scopes use it). */
  get nextId(): number {
    // Ids are given in the order nodes are counted: what a nursery holds was allocated earlier.
    flushTrackerNurseries();
    return this.#nextId;
  }

  #log(op: number, id: number, size: number, stream: number, time: number): void {
    const slot = this.#slot;
    this.#slot = slot + 1 === this.#capacity ? 0 : slot + 1;
    this.#written++;
    const at = 4 * slot;
    const events = this.#events;
    events[at] = op;
    events[at + 1] = id;
    events[at + 2] = size;
    events[at + 3] = stream;
    if (this.#timestamps) this.#times[slot] = time;
  }

  #captureSite(): string | undefined {
    const sites = this.#sites;
    if (sites !== "on" && sites !== "off") {
      if (this.#sampleCountdown-- > 0) return undefined;
      this.#sampleCountdown = sites.sample - 1;
    }
    // gpumem's own frames can pass V8's default of 10 (a ResizableBuffer's first growth does).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 64;
    const stack = new Error().stack ?? "";
    Error.stackTraceLimit = limit;
    return siteOf(stack);
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

/** Most events a log keeps: 2^26 (2 GiB of events). */
const MAX_EVENT_CAPACITY = 2 ** 26;

function checkCapacity(capacity: number): void {
  if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > MAX_EVENT_CAPACITY) {
    throw new InvalidArgumentError(
      "eventCapacity",
      `an integer from 0 to ${MAX_EVENT_CAPACITY}`,
      capacity,
    );
  }
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
    if (!OWN_SOURCES.some((own) => frame.includes(own))) return frame;
  }
  return undefined;
}

/** gpumem's own source folders, by URL (a user's own src/memory/ is not gpumem's). */
const OWN_SOURCES: readonly string[] = ["src/", "ffi/", "mod.ts"].map((path) =>
  new URL(`../../${path}`, import.meta.url).href
);
