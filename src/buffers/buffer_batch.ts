/**
 * BufferBatch: a group that owns many buffers and frees them together.
 *
 * @module
 */

import { DisposedError, formatBytes, GpumemError, InvalidArgumentError } from "../errors.ts";
import { type AllocateOptions, DeviceBuffer } from "./device_buffer.ts";

/** Which batch owns a buffer, so no buffer is in two batches at once. */
const batchOf = new WeakMap<DeviceBuffer, BufferBatch>();

/**
 * Owns buffers until it is disposed, then frees every one still in it (a buffer freed earlier is
 * simply dropped). `release()` hands one back to the caller to keep beyond the batch.
 *
 * @example
 * ```ts
 * import { BufferBatch } from "@gpumem/gpumem";
 * let kept;
 * {
 *   using batch = new BufferBatch({ label: "frame" });
 *   const positions = batch.allocate(4096);
 *   batch.allocate(1024);
 *   kept = batch.release(positions); // survives the batch
 * } // the 1 KiB buffer is freed here
 * kept.free();
 * ```
 */
export class BufferBatch {
  readonly #defaults: AllocateOptions;
  readonly #buffers = new Set<DeviceBuffer>();
  #disposed = false;

  /** A batch whose allocate() uses `defaults` (device, resource, stream, label) unless overridden. */
  constructor(defaults: AllocateOptions = {}) {
    if (defaults === null || typeof defaults !== "object") {
      throw new InvalidArgumentError("defaults", "an object of allocation options", defaults);
    }
    this.#defaults = { ...defaults };
  }

  /** Buffers the batch owns now. */
  get size(): number {
    return this.#buffers.size;
  }

  /** Bytes in the buffers the batch owns now (freed ones not counted). */
  get byteLength(): number {
    let bytes = 0;
    for (const buffer of this.#buffers) if (!buffer.disposed) bytes += buffer.byteLength;
    return bytes;
  }

  /** Whether the batch was disposed. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Allocates a buffer the batch owns. */
  allocate(bytes: number, options: AllocateOptions = {}): DeviceBuffer {
    this.#assertOpen();
    return this.#own(DeviceBuffer.allocate(bytes, { ...this.#defaults, ...options }));
  }

  /** Takes ownership of an owning, live buffer that belongs to no other batch. */
  adopt(buffer: DeviceBuffer): DeviceBuffer {
    this.#assertOpen();
    if (!(buffer instanceof DeviceBuffer) || buffer.isView || buffer.disposed) {
      throw new InvalidArgumentError("buffer", "a live owning DeviceBuffer", buffer);
    }
    const owner = batchOf.get(buffer);
    if (owner === this) return buffer;
    if (owner !== undefined) throw new GpumemError(`${buffer} already belongs to another batch`);
    return this.#own(buffer);
  }

  /** Gives a buffer of this batch back to the caller, who must free it. */
  release(buffer: DeviceBuffer): DeviceBuffer {
    this.#assertOpen();
    if (batchOf.get(buffer) !== this) {
      throw new InvalidArgumentError("buffer", "a buffer of this batch", buffer);
    }
    batchOf.delete(buffer);
    this.#buffers.delete(buffer);
    return buffer;
  }

  /**
   * Frees every buffer still owned. Every free is attempted even if one fails; failures are then
   * thrown together (AggregateError). Idempotent.
   */
  free(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const errors: unknown[] = [];
    for (const buffer of this.#buffers) {
      batchOf.delete(buffer);
      try {
        buffer.free();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#buffers.clear();
    if (errors.length > 0) {
      throw new AggregateError(errors, `${errors.length} buffers of the batch failed to free`);
    }
  }

  /** Same as {@linkcode BufferBatch.free}. */
  [Symbol.dispose](): void {
    this.free();
  }

  /** `BufferBatch(3 buffers, 1.50 MiB)`. */
  toString(): string {
    return `BufferBatch(${this.size} buffers, ${formatBytes(this.byteLength)}${
      this.#disposed ? ", disposed" : ""
    })`;
  }

  #own(buffer: DeviceBuffer): DeviceBuffer {
    batchOf.set(buffer, this);
    this.#buffers.add(buffer);
    return buffer;
  }

  #assertOpen(): void {
    if (this.#disposed) throw new DisposedError(this.toString(), "was used after it was disposed");
  }
}
