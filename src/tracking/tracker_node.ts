/**
 * The tracking protocol: what a tracker keeps of an allocation (a TrackerNode, whose fields
 * DeviceBuffer carries itself so that tracking allocates no object), the per-label entry nodes
 * share, and the plain record a report shows.
 *
 * @module
 */

import type { MemoryTracker } from "./memory_tracker.ts";

/** The label of allocations made without one. */
export const UNLABELLED = "(unlabelled)";

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
  /** Its device address (0n for a record made with recordAllocation). */
  readonly address: bigint;
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
  /** The device address, for the event log and snapshots. */
  readonly trackAddress: bigint;
  /** Its label's entry while it is live in a tracker; null otherwise. */
  trackEntry: LabelEntry | null;
}

/** The record {@linkcode MemoryTracker.recordAllocation} hands out. */
export class StandaloneRecord implements TrackerNode, TrackedAllocation {
  readonly byteLength: number;
  readonly device: string;
  readonly label: string;
  trackId = -1;
  trackSite: string | undefined = undefined;
  trackTime = NaN;
  trackStream: number;
  readonly trackAddress = 0n;
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
  get address(): bigint {
    return this.trackAddress;
  }
}

/**
 * A plain TrackedAllocation of a live node (for live() and report filters); its trackTime is
 * read only when the tracker takes timestamps (nodes start with 0 there: a NaN would make V8 box
 * the field in every buffer).
 */
export function describeNode(
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
    address: node.trackAddress,
  };
}
