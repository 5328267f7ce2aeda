/**
 * Where a ResizableBuffer's memory is, one class a strategy: MappedStorage ("vmm": a range
 * reserved once, memory mapped in and out, views kept as long as their memory stays mapped) and
 * CopiedStorage ("copy": one pool block, replaced and copied on the buffer's stream).
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import type { GrowableRange } from "../memory/pool/growable_range.ts";
import type { GrowableSource } from "../memory/growable_source.ts";
import type { MemoryResource } from "../memory/resource.ts";
import { activeTracker } from "../tracking/active_tracker.ts";
import type { MemoryTracker } from "../tracking/memory_tracker.ts";
import type { TrackedAllocation } from "../tracking/tracker_node.ts";
import { DeviceBuffer, windowBuffer } from "./device_buffer.ts";

/** Where a ResizableBuffer's memory is: the state one strategy keeps. */
export interface Storage {
  /** Bytes usable now (≥ the buffer's length). */
  readonly capacity: number;
  /** The base address (0n while nothing is held, under "copy"). */
  readonly address: bigint;
  /** Makes capacity at least `bytes`, keeping the first `keep` bytes; nothing changed on failure. */
  grow(bytes: number, keep: number): void;
  /** Lowers capacity toward `bytes` (≥ `keep`), keeping the first `keep` bytes. */
  shrink(bytes: number, keep: number): void;
  /** A view of `length` bytes at `offset` (both within capacity). */
  view(offset: number, length: number): DeviceBuffer;
  /** Gives everything back. */
  free(): void;
}

/** A range reserved once, memory mapped into it as it grows: stable pointer, views survive. */
export class MappedStorage implements Storage {
  readonly #range: GrowableRange;
  readonly #pool: GrowableSource;
  readonly #label: string | undefined;
  readonly #deviceId: string;
  /**
   * The owners of the views handed out, each as long as its views reach (offset + length), so a
   * shrink closes exactly the views reaching past what stays mapped. Held weakly: a window whose
   * views are all gone is dropped.
   */
  #windows = new Map<number, WeakRef<DeviceBuffer>>();
  #tracker: MemoryTracker | null;
  #record: TrackedAllocation | null = null;

  constructor(pool: GrowableSource, maxBytes: number, label: string | undefined) {
    this.#range = pool.reserveGrowable(maxBytes, label);
    this.#pool = pool;
    this.#label = label;
    this.#deviceId = pool.device.id;
    this.#tracker = activeTracker();
  }

  get capacity(): number {
    return this.#range.mappedBytes;
  }

  get address(): bigint {
    return this.#range.address;
  }

  get maxBytes(): number {
    return this.#range.maxBytes;
  }

  grow(bytes: number): void {
    this.#range.grow(bytes);
    this.#retrack();
  }

  shrink(bytes: number): void {
    const mapped = this.#range.shrink(bytes);
    // Views reaching past what stays mapped die with their window; the others live on.
    for (const [extent, ref] of this.#windows) {
      const window = ref.deref();
      if (window !== undefined && extent <= mapped) continue;
      window?.free();
      this.#windows.delete(extent);
    }
    this.#retrack();
  }

  view(offset: number, length: number): DeviceBuffer {
    const extent = offset + length;
    let window = this.#windows.get(extent)?.deref();
    if (window === undefined || window.disposed) {
      if (this.#windows.size >= 64) this.#dropCollected();
      window = windowBuffer(this.#pool, this.address, extent, this.#label);
      this.#windows.set(extent, new WeakRef(window));
    }
    return window.view(offset, length);
  }

  free(): void {
    for (const ref of this.#windows.values()) ref.deref()?.free();
    this.#windows.clear();
    this.#range.close();
    this.#retrack();
  }

  /** Forgets the windows nobody holds a view of any more. */
  #dropCollected(): void {
    for (const [extent, ref] of this.#windows) {
      if (ref.deref() === undefined) this.#windows.delete(extent);
    }
  }

  /** The tracker counts the mapped bytes under the label (one record, renewed on each resize). */
  #retrack(): void {
    const tracker = this.#tracker;
    if (tracker === null) return;
    if (this.#record !== null) tracker.recordFree(this.#record);
    this.#record = null;
    if (!this.#range.closed && this.capacity > 0) {
      this.#record = tracker.recordAllocation(this.capacity, this.#deviceId, this.#label);
    }
  }
}

/** One pool block, replaced by a bigger (or smaller) one and copied on the buffer's stream. */
export class CopiedStorage implements Storage {
  readonly #pool: MemoryResource;
  readonly #stream: Stream | undefined;
  readonly #label: string | undefined;
  #block: DeviceBuffer | null = null;
  #empty: DeviceBuffer | null = null;

  constructor(pool: MemoryResource, stream: Stream | undefined, label: string | undefined) {
    this.#pool = pool;
    this.#stream = stream;
    this.#label = label;
  }

  get capacity(): number {
    return this.#block?.byteLength ?? 0;
  }

  get address(): bigint {
    return this.#block?.ptr ?? 0n;
  }

  grow(bytes: number, keep: number): void {
    if (bytes > this.capacity) this.#moveTo(bytes, keep);
  }

  shrink(bytes: number, keep: number): void {
    if (bytes < this.capacity) this.#moveTo(bytes, keep);
  }

  view(offset: number, length: number): DeviceBuffer {
    // An empty buffer has no block: its views are of a zero-byte buffer, which holds no memory.
    this.#empty ??= DeviceBuffer.allocate(0, { resource: this.#pool, label: this.#label });
    return (this.#block ?? this.#empty).view(offset, length);
  }

  free(): void {
    this.#block?.free();
    this.#block = null;
    this.#empty?.free();
  }

  /** A new block of `bytes` with the first `keep` bytes copied; the old one freed after. */
  #moveTo(bytes: number, keep: number): void {
    const next = bytes === 0 ? null : DeviceBuffer.allocate(bytes, {
      resource: this.#pool,
      stream: this.#stream,
      label: this.#label,
    });
    const old = this.#block;
    if (old !== null && next !== null && keep > 0) {
      try {
        const handle = this.#stream?.handle;
        old.device.ops.deviceToDevice(next.ptr, old.ptr, keep, handle);
      } catch (error) {
        next.free();
        throw error;
      }
    }
    this.#block = next;
    old?.free(); // ordered after the copy on the same stream: the pool reuses it only then
  }
}
