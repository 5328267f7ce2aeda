/**
 * MemoryTracker: live allocations by label (always on once installed, cheap), and what it records
 * beyond counting when asked: sites (sites.ts), timestamps, an event log (event_log.ts). Its
 * protocol with buffers is tracker_node.ts; reports, scopes and nurseries have files of their own.
 *
 * @module
 */

import { GpumemError, InvalidArgumentError } from "../errors.ts";
import { checkBoolean, checkByteCount, checkOptions } from "../validate.ts";
import { checkCapacity, EventLog } from "./event_log.ts";
import type { Timeline } from "./timeline.ts";
import { flushTrackerNurseries } from "./nursery.ts";
import { buildReport, type MemoryReport } from "./report.ts";
import { type SiteCapture, SiteSampler } from "./sites.ts";
import type { Trace } from "./trace_format.ts";
import {
  describeNode,
  type LabelEntry,
  StandaloneRecord,
  type TrackedAllocation,
  type TrackerNode,
  UNLABELLED,
} from "./tracker_node.ts";
import { defaultLeakWarning, TrackerScope } from "./tracker_scope.ts";

export { registerTrackerNursery } from "./nursery.ts";
export type { MemoryReport, ReportRow } from "./report.ts";
export { EventOp, type Timeline } from "./timeline.ts";
export type { SiteCapture } from "./sites.ts";
export type { LabelEntry, TrackedAllocation, TrackerNode } from "./tracker_node.ts";
export { TrackerScope } from "./tracker_scope.ts";

/** Options for {@linkcode MemoryTracker}. */
export interface MemoryTrackerOptions {
  /**
   * Allocation sites: "off" (default), "on", or one in `sample` allocations. A site is a stack
   * trace, ~24 µs in Deno (development machine); with sites on, every allocation is tracked as
   * it happens.
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

/** The tracker's node array is compacted no sooner than at this length. */
const COMPACT_MIN = 1024;

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
  #sites: SiteSampler;
  /** Whether anything beyond counting is recorded per allocation (sites, timestamps, a log). */
  #detailed = false;
  #nextId = 0;
  /** The event log, while one runs. */
  #log: EventLog | null = null;

  /** A tracker; see {@linkcode MemoryTrackerOptions}. */
  constructor(options: MemoryTrackerOptions = {}) {
    checkOptions(options);
    checkBoolean(options.timestamps, false, "options.timestamps");
    this.#sites = new SiteSampler(options.sites ?? "off");
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
    const log = new EventLog(capacity, this.#timestamps); // first: if it fails, nothing changed
    this.#log = log;
    this.#updateDetailed();
  }

  /** Stops and drops the event log. */
  stopEventLog(): void {
    this.#log = null;
    this.#updateDetailed();
  }

  /** How sites are captured now. */
  get sites(): SiteCapture {
    return this.#sites.mode;
  }

  /** Changes site capture. */
  set sites(value: SiteCapture) {
    this.#sites = new SiteSampler(value);
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
   * node already live is left alone. The collection net's; not for users.
   *
   * @ignore
   */
  track(node: TrackerNode, device: string, label: string | undefined): void {
    if (node.trackEntry !== null) return;
    this.trackNew(node, device, label);
    this.adopt(node);
  }

  /**
   * Counts a node never tracked before, without listing it: DeviceBuffer's allocation path when
   * the tracker {@linkcode MemoryTracker.recordsAtAllocation}, whose nursery later hands the
   * buffers still unfreed to adopt. Kept to the counting writes.
   *
   * @ignore
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
    const detailed = this.#sites.mode !== "off" || this.#timestamps || this.#log !== null;
    if (detailed === this.#detailed) return;
    // Nodes waiting in a nursery were allocated under the old setting: count them under it.
    flushTrackerNurseries();
    this.#detailed = detailed;
  }

  /** Sites, timestamps and the event log of an allocation: opt-in, so off the counting path. */
  #recordDetails(node: TrackerNode): void {
    if (this.#sites.mode !== "off") node.trackSite = this.#sites.capture();
    if (this.#timestamps) node.trackTime = performance.now();
    this.#log?.allocate(
      node.trackId,
      node.byteLength,
      node.trackStream,
      node.trackAddress,
      node.trackEntry!.label,
      node.trackSite,
      node.trackTime,
    );
  }

  /**
   * Records `node` as freed (a node not live here is ignored).
   *
   * @ignore
   */
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
    const log = tracker.#log;
    if (log !== null) {
      log.free(
        node.trackId,
        node.byteLength,
        node.trackStream,
        node.trackAddress,
        tracker.#timestamps ? performance.now() : NaN,
      );
    }
  }

  /**
   * Puts a live node counted by trackNew on the list of live nodes.
   *
   * @ignore
   */
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
    flushTrackerNurseries();
    this.#compact();
    const picked: TrackedAllocation[] = [];
    for (const node of this.#nodes) {
      const allocation = describeNode(node, node.trackEntry!, this.#timestamps);
      if (filter(allocation)) picked.push(allocation);
    }
    return buildReport(picked);
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
    return this.#log?.trace(workload) ?? { workload, events: [], peak_live: 0 };
  }

  /**
   * Records one of a pool's own events in the log, when one runs (pools call it on their slow
   * paths: memory reserved or released, an allocation refused, the cache trimmed).
   *
   * @ignore
   */
  logPoolEvent(op: number, pool: string, bytes: number, address: bigint): void {
    this.#log?.pool(op, pool, bytes, address, this.#timestamps ? performance.now() : NaN);
  }

  /** Whether an event log runs now. */
  get logsEvents(): boolean {
    return this.#log !== null;
  }

  /** Every event the log keeps, in columns (for snapshots and the viewer); null without a log. */
  timeline(): Timeline | null {
    return this.#log?.timeline() ?? null;
  }

  /** Events recorded since the log started (it keeps the latest `eventCapacity`). */
  get eventCount(): number {
    return this.#log?.count ?? 0;
  }

  /** Sequence number the next allocation will get (scopes use it). */
  get nextId(): number {
    // Ids are given in the order nodes are counted: what a nursery holds was allocated earlier.
    flushTrackerNurseries();
    return this.#nextId;
  }
}
