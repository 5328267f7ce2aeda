/**
 * Pinned host memory with an owner, seen from TypeScript as typed arrays.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import { DeviceBuffer } from "../buffers/device_buffer.ts";
import type { MemoryDevice } from "../device/types.ts";
import { DisposedError, formatBytes, InvalidArgumentError } from "../errors.ts";
import type { MemoryPool } from "../memory/pool/memory_pool.ts";
import { markPinned, pinnedOwnerOf } from "../buffers/pinned_owner.ts";
import { pinnedPoolOf } from "./pinned_pool.ts";
import {
  bytesOf,
  checkByteCount,
  checkHostArray,
  checkOptions,
  elementRange,
  type HostArray,
  type HostArrayConstructor,
} from "../validate.ts";

/** Options for {@linkcode HostBuffer.allocate}. */
export interface HostBufferOptions {
  /** The device whose pinned pool serves it (default: the default device). */
  device?: MemoryDevice;
  /** A pool over pinned (or, on the cpu device, plain) host memory; default: the device's. */
  pool?: MemoryPool;
  /** A label for the tracker's reports (default `pinned`). */
  label?: string;
}

/**
 * Pinned host memory from a pinned pool: copies between it and device memory run at the link's
 * full speed and can be truly asynchronous. `bytes` and `typed()` are views over the memory
 * itself, no copy. Free it with `using` or free(): its views are then detached (length 0), so a
 * late use cannot touch memory the pool has handed to someone else. A block used by a transfer
 * goes back to the pool only once that transfer is done.
 *
 * @example
 * ```ts
 * import { cpuDevice, DeviceBuffer, HostBuffer } from "@gpumem/gpumem";
 * using staging = HostBuffer.allocate(16, { device: cpuDevice });
 * staging.typed(Float32Array).set([1, 2, 3, 4]);
 * using buffer = DeviceBuffer.allocate(16, { device: cpuDevice });
 * buffer.copyFromHost(staging.bytes);
 * ```
 */
export class HostBuffer {
  /** Allocates `bytes` (> 0) bytes of pinned memory from the device's pinned pool. */
  static allocate(bytes: number, options: HostBufferOptions = {}): HostBuffer {
    checkOptions(options);
    if (checkByteCount(bytes, "bytes") === 0) {
      throw new InvalidArgumentError("bytes", "a positive safe integer", bytes);
    }
    const { pool } = pinnedPoolOf(options);
    const label = options.label ?? "pinned";
    return new HostBuffer(DeviceBuffer.allocate(bytes, { resource: pool, label }));
  }

  /** Allocates a HostBuffer the size of `data` and copies `data` into it. */
  static fromHost(data: HostArray, options: HostBufferOptions = {}): HostBuffer {
    const source = bytesOf(checkHostArray(data));
    const buffer = HostBuffer.allocate(source.byteLength, options);
    buffer.bytes.set(source);
    return buffer;
  }

  /** The HostBuffer whose memory `array` views, if any (typed arrays from bytes or typed()). */
  static of(array: HostArray): HostBuffer | undefined {
    const owner = pinnedOwnerOf(array);
    return owner instanceof HostBuffer ? owner : undefined;
  }

  /** Bytes in the buffer. */
  readonly byteLength: number;
  /** The allocation, through the pool's block path (tracking, collection net and all). */
  readonly #allocation: DeviceBuffer;
  /** The memory as one ArrayBuffer; detached by free(). */
  readonly #memory: ArrayBuffer;
  /** A view of every byte, made once. */
  readonly #bytes: Uint8Array;

  private constructor(allocation: DeviceBuffer) {
    this.#allocation = allocation;
    this.byteLength = allocation.byteLength;
    const pointer = Deno.UnsafePointer.create(allocation.ptr)!;
    this.#memory = Deno.UnsafePointerView.getArrayBuffer(pointer, this.byteLength);
    // Every view holds its ArrayBuffer, which holds this: memory under a live view is never
    // freed by the collection net.
    markPinned(this.#memory, this);
    this.#bytes = new Uint8Array(this.#memory);
  }

  /** The device whose pinned pool the memory came from. */
  get device(): MemoryDevice {
    return this.#allocation.device;
  }

  /** The tracker's label. */
  get label(): string | undefined {
    return this.#allocation.label;
  }

  /** True once freed. */
  get disposed(): boolean {
    return this.#allocation.disposed;
  }

  /** The host address (bigint); DisposedError once freed. */
  get ptr(): bigint {
    this.#assertLive();
    return this.#allocation.ptr;
  }

  /** All the bytes, as a view over the pinned memory; DisposedError once freed. */
  get bytes(): Uint8Array {
    this.#assertLive();
    return this.#bytes;
  }

  /**
   * A typed view of `count` elements of `type` from element `elementOffset` (default: all whole
   * elements from there); DisposedError once freed.
   */
  typed<T extends HostArray>(type: HostArrayConstructor<T>, elementOffset = 0, count?: number): T {
    this.#assertLive();
    const { kind, size, elements } = elementRange(type, elementOffset, count, this.byteLength);
    if ((elementOffset + elements) * size > this.byteLength) {
      throw new InvalidArgumentError(
        "count",
        `elements that fit in ${this.byteLength} bytes`,
        `${elements} of ${size} B from element ${elementOffset}`,
      );
    }
    return new kind(this.#memory, elementOffset * size, elements);
  }

  /**
   * Marks the memory as used by work queued on `stream` (a transfer): after free(), the pool
   * reuses it only once that work is done. Copies gpumem queues call this themselves.
   */
  recordStream(stream: Stream): void {
    this.#assertLive();
    this.#allocation.recordStream(stream);
  }

  /**
   * Gives the memory back to its pool and detaches every view. Idempotent. Memory the user
   * detached already (`bytes.buffer.transfer()`) goes back all the same: the ArrayBuffer it moved
   * to must not be used after free().
   */
  free(): void {
    if (this.#allocation.disposed) return;
    // Detaches this ArrayBuffer and every view over it (unless the user detached it first).
    if (!this.#memory.detached) this.#memory.transfer(0);
    this.#allocation.free();
  }

  /** Same as {@linkcode HostBuffer.free}. */
  [Symbol.dispose](): void {
    this.free();
  }

  /** `HostBuffer(cuda:0, 1.00 MiB, label)`. */
  toString(): string {
    const label = this.label === undefined ? "" : `, ${this.label}`;
    return `HostBuffer(${this.device.id}, ${formatBytes(this.byteLength)}${label})`;
  }

  #assertLive(): void {
    if (this.#allocation.disposed) throw new DisposedError(this.toString());
  }
}
