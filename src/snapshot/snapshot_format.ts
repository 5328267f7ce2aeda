/**
 * The memory snapshot format: what `manager.snapshot()` and `pool.snapshot()` return, plain
 * JSON-serialisable data (bytes as numbers, addresses as hex strings, no limit as null), and the
 * reader that checks a parsed file is one.
 *
 * @module
 */

import { GpumemError } from "../errors.ts";
import type { PoolStats } from "../memory/pool/pool_stats.ts";
import type { Timeline } from "../tracking/timeline.ts";

/** The `format` field of every snapshot. */
export const SNAPSHOT_FORMAT = "gpumem-snapshot";
/** The version this library writes and reads. */
export const SNAPSHOT_VERSION = 1;

/** What a block is doing at the snapshot. */
export type BlockState = "allocated" | "cached" | "pending" | "unmapped";

/** One block of a segment. */
export interface BlockSnapshot {
  /** Offset in its segment. */
  offset: number;
  /** Bytes. */
  size: number;
  /** allocated (handed out), cached (free, reusable), pending (free, waiting on another stream's event) or unmapped (address range only). */
  state: BlockState;
  /** Bytes the caller asked for (allocated blocks; else 0). */
  requested: number;
  /** Label given at allocation (allocated blocks that had one). */
  label?: string;
  /** Allocation site, when the tracker captured one. */
  site?: string;
  /** Milliseconds since it was allocated, when the tracker takes timestamps. */
  ageMs?: number;
  /** The tracker's allocation id, when it tracks the buffer. */
  id?: number;
}

/** One segment: an upstream allocation, or a reserved range memory is mapped into. */
export interface SegmentSnapshot {
  /** Start address, hex. */
  address: string;
  /** Bytes of address range. */
  size: number;
  /** The owning stream's number in its pool (0: the legacy default stream). */
  stream: number;
  /** Serves small requests (≤ 1 MiB) rather than large ones. */
  small: boolean;
  /** A reserved range grown in place (its unmapped blocks have no memory). */
  growable: boolean;
  /** Bytes with memory under them (size, unless growable). */
  mappedBytes: number;
  /** Its blocks in address order; they tile the segment. */
  blocks: BlockSnapshot[];
}

/** One pool. */
export interface PoolSnapshot {
  /** Its name. */
  name: string;
  /** Its device's id ("cuda:0", "cpu"). */
  device: string;
  /** Its upstream's name. */
  upstream: string;
  /** Segments grow in place (expandable segments). */
  expandableSegments: boolean;
  /** Most bytes it may reserve; null for none. */
  limit: number | null;
  /** Allocated ÷ limit (÷ the device's memory without a limit), 0..1. */
  pressure: number;
  /** Its statistics. */
  stats: PoolStats;
  /** Streams that own segments, counted in the `stream` numbers (0 included). */
  streams: number;
  /** Its segments, in the order the pool holds them. */
  segments: SegmentSnapshot[];
}

/** One device the manager serves. */
export interface DeviceSnapshot {
  /** Its id. */
  id: string;
  /** Its name. */
  name: string;
  /** Bytes free (NaN: unknown, serialised as null). */
  freeBytes: number | null;
  /** Bytes in all. */
  totalBytes: number | null;
}

/** A live allocation as the tracker sees it. */
export interface LiveSnapshot {
  /** Tracker id. */
  id: number;
  /** Bytes asked for. */
  bytes: number;
  /** Device id. */
  device: string;
  /** Label. */
  label: string;
  /** Address, hex ("0x0" for a bare record). */
  address: string;
  /** Site, when captured. */
  site?: string;
  /** Milliseconds since allocation, when timestamps are on. */
  ageMs?: number;
}

/** A whole snapshot. */
export interface MemorySnapshot {
  /** Always "gpumem-snapshot". */
  format: "gpumem-snapshot";
  /** Format version (1). */
  version: number;
  /** When it was taken (ISO 8601). */
  taken: string;
  /** performance.now() when it was taken (the timeline's clock). */
  now: number;
  /** Devices. */
  devices: DeviceSnapshot[];
  /** Device pools. */
  pools: PoolSnapshot[];
  /** Pinned host pools (staging and HostBuffers). */
  pinnedPools: PoolSnapshot[];
  /** Live allocations, oldest first. */
  live: LiveSnapshot[];
  /** The event log's events, when one runs; else null. */
  timeline: Timeline | null;
}

/**
 * Parses a snapshot written with JSON.stringify and checks it is one (format, version, the
 * arrays it must have); GpumemError otherwise.
 */
export function parseSnapshot(text: string): MemorySnapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GpumemError("not a gpumem snapshot: not JSON", { cause: error });
  }
  if (!isSnapshot(value)) {
    throw new GpumemError(
      `not a gpumem snapshot (format "${SNAPSHOT_FORMAT}", version ${SNAPSHOT_VERSION} expected)`,
    );
  }
  return value;
}

/** Whether `value` has the shape of a snapshot this library reads. */
export function isSnapshot(value: unknown): value is MemorySnapshot {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Partial<MemorySnapshot>;
  return s.format === SNAPSHOT_FORMAT && s.version === SNAPSHOT_VERSION &&
    Array.isArray(s.pools) && Array.isArray(s.pinnedPools) && Array.isArray(s.live) &&
    Array.isArray(s.devices) && s.pools.every((pool) => Array.isArray(pool?.segments)) &&
    (s.timeline === null || Array.isArray(s.timeline?.op));
}

/** Hex text of an address. */
export function hexAddress(address: bigint | number): string {
  return `0x${address.toString(16)}`;
}
