/**
 * The process-wide memory manager: one source of truth for what is allocated where. It owns a
 * pool per device (the default pools DeviceBuffer allocates from), the tracker, and answers
 * "can I allocate this?" before a program tries.
 *
 * @module
 */

import { describePool } from "../memory/pool/pool_report.ts";
import { defaultDevice, listDevices } from "../device/select.ts";
import type { MemoryDevice } from "../device/types.ts";
import { formatBytes } from "../errors.ts";
import { DevicePools, processPools } from "../memory/default_resources.ts";
import type { MemoryPool } from "../memory/pool/memory_pool.ts";
import type { PoolStats } from "../memory/pool/pool_stats.ts";
import { activeTracker, setActiveTracker } from "../tracking/active_tracker.ts";
import { MemoryTracker } from "../tracking/memory_tracker.ts";
import { checkByteCount, checkDevice } from "../validate.ts";
import {
  hexAddress,
  type LiveSnapshot,
  type MemorySnapshot,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
} from "../snapshot/snapshot_format.ts";

/** Memory in use, per device and in all. */
export interface MemoryUsage {
  /** Bytes handed out by the pools. */
  allocatedBytes: number;
  /** Bytes the pools hold from the devices. */
  reservedBytes: number;
  /** The same per device id. */
  devices: Record<string, { allocatedBytes: number; reservedBytes: number }>;
  /** Pinned host memory handed out by the pinned pools (HostBuffers, staging). */
  pinnedAllocatedBytes: number;
  /** Pinned host memory the pinned pools hold. */
  pinnedReservedBytes: number;
}

/**
 * The process's memory manager; get it with {@linkcode getMemoryManager}.
 *
 * @example
 * ```ts
 * import { DeviceBuffer, getMemoryManager } from "@gpumem/gpumem";
 * const manager = getMemoryManager();
 * if (manager.canAllocate(1 << 20)) {
 *   using buffer = DeviceBuffer.allocate(1 << 20, { label: "example" });
 *   console.log(manager.usedBytes());
 * }
 * manager.freeCache();
 * ```
 */
export class MemoryManager {
  /** The tracker every DeviceBuffer reports to. */
  readonly tracker: MemoryTracker;
  readonly #pools: DevicePools;

  /**
   * A manager owning `pools` (default: pools of its own, none shared with another manager).
   * Buffers that name no resource allocate from the process manager's: use
   * {@linkcode getMemoryManager}.
   */
  constructor(tracker: MemoryTracker, pools: DevicePools = new DevicePools()) {
    this.tracker = tracker;
    this.#pools = pools;
  }

  /** The pool of `device` (default: the default device). */
  pool(device: MemoryDevice = defaultDevice()): MemoryPool {
    return this.#pools.pool(checkDevice(device));
  }

  /** The pinned host pool serving `device`'s transfers (default: the default device). */
  pinnedPool(device: MemoryDevice = defaultDevice()): MemoryPool {
    return this.#pools.pinned(checkDevice(device));
  }

  /**
   * Whether `bytes` can be allocated on `device` now: the pool's cache plus the device's free
   * memory, within the pool's limit. If not, frees the pool's cache and looks again before it
   * says no.
   */
  canAllocate(bytes: number, device: MemoryDevice = defaultDevice()): boolean {
    checkByteCount(bytes, "bytes");
    const pool = this.pool(device);
    if (this.#fits(pool, bytes)) return true;
    pool.freeCache();
    return this.#fits(pool, bytes);
  }

  /** Bytes handed out on `device`, or on every device when none is given. */
  usedBytes(device?: MemoryDevice): number {
    return device === undefined
      ? this.totalUsage().allocatedBytes
      : this.pool(device).stats().allocatedBytes.current;
  }

  /** Gives every pool's unused memory back, pinned pools included (or only `device`'s). */
  freeCache(device?: MemoryDevice): void {
    const pools = device === undefined
      ? [...this.#pools.pools(), ...this.#pools.pinnedPools()]
      : [this.pool(device), this.pinnedPool(device)];
    for (const pool of pools) pool.freeCache();
  }

  /** The statistics of `device`'s pool. */
  stats(device: MemoryDevice = defaultDevice()): PoolStats {
    return this.pool(device).stats();
  }

  /** What is allocated and reserved, per device and in all (pools created so far). */
  totalUsage(): MemoryUsage {
    const usage: MemoryUsage = {
      allocatedBytes: 0,
      reservedBytes: 0,
      devices: {},
      pinnedAllocatedBytes: 0,
      pinnedReservedBytes: 0,
    };
    for (const pool of this.#pools.pinnedPools()) {
      const stats = pool.stats();
      usage.pinnedAllocatedBytes += stats.allocatedBytes.current;
      usage.pinnedReservedBytes += stats.reservedBytes.current;
    }
    for (const pool of this.#pools.pools()) {
      const stats = pool.stats();
      const entry = {
        allocatedBytes: stats.allocatedBytes.current,
        reservedBytes: stats.reservedBytes.current,
      };
      usage.devices[pool.device.id] = entry;
      usage.allocatedBytes += entry.allocatedBytes;
      usage.reservedBytes += entry.reservedBytes;
    }
    return usage;
  }

  /** A readable report: each device's pool, then the live allocations by label. */
  report(): string {
    const lines = ["gpumem memory report"];
    for (const pool of this.#pools.pools()) {
      const { free, total } = pool.memInfo();
      lines.push(
        `  ${pool.device.id}: ${describePool(pool.stats(), pool.limit)}; device ` +
          `${formatBytes(free)} free of ${formatBytes(total)}`,
      );
    }
    for (const pool of this.#pools.pinnedPools()) {
      const s = pool.stats();
      lines.push(
        `  ${pool.name}: ${formatBytes(s.allocatedBytes.current)} pinned host memory in use, ` +
          `${formatBytes(s.reservedBytes.current)} held (peak ${
            formatBytes(s.reservedBytes.peak)
          })`,
      );
    }
    lines.push(this.tracker.report().text);
    return lines.join("\n");
  }

  /**
   * Everything the manager knows, as plain JSON-serialisable data: devices, every pool (device
   * and pinned) with its segments and blocks, the tracker's live allocations (their sites and
   * ages when the tracker records them) and, while an event log runs, its events. Write it with
   * JSON.stringify, read it back with {@linkcode parseSnapshot}, look at it with `deno task viz`.
   */
  snapshot(): MemorySnapshot {
    const live = this.tracker.live();
    const now = performance.now();
    const devices = [...this.#pools.pools()].map((pool) => {
      const { free, total } = pool.memInfo();
      return {
        id: pool.device.id,
        name: pool.device.name,
        freeBytes: Number.isFinite(free) ? free : null,
        totalBytes: Number.isFinite(total) ? total : null,
      };
    });
    return {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      taken: new Date().toISOString(),
      now,
      devices,
      pools: [...this.#pools.pools()].map((pool) => pool.snapshot(live)),
      pinnedPools: [...this.#pools.pinnedPools()].map((pool) => pool.snapshot(live)),
      live: live.map((allocation) => {
        const entry: LiveSnapshot = {
          id: allocation.id,
          bytes: allocation.bytes,
          device: allocation.device,
          label: allocation.label,
          address: hexAddress(allocation.address),
        };
        if (allocation.site !== undefined) entry.site = allocation.site;
        if (!Number.isNaN(allocation.time)) entry.ageMs = now - allocation.time;
        return entry;
      }),
      timeline: this.tracker.timeline(),
    };
  }

  /** Every device the manager can serve. */
  devices(): MemoryDevice[] {
    return listDevices();
  }

  #fits(pool: MemoryPool, bytes: number): boolean {
    const stats = pool.stats();
    if (bytes <= stats.largestFreeBlock) return true;
    const headroom = pool.limit - stats.reservedBytes.current;
    if (bytes > headroom + stats.freeCachedBytes) return false;
    const free = pool.memInfo().free;
    // Unknown free memory (cpu device without --allow-sys) does not block: the limit decides.
    return Number.isNaN(free) || bytes <= free + stats.freeCachedBytes;
  }
}

let manager: MemoryManager | undefined;

/**
 * The process-wide manager, created on first call. It installs its tracker as the active one
 * (unless another was installed first), so every DeviceBuffer from then on is counted by label.
 */
export function getMemoryManager(): MemoryManager {
  if (manager === undefined) {
    const tracker = activeTracker() ?? new MemoryTracker();
    setActiveTracker(tracker);
    manager = new MemoryManager(tracker, processPools);
  }
  return manager;
}
