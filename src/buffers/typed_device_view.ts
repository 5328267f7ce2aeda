/**
 * A typed window on device memory: elements instead of bytes, host arrays of one kind.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import { InvalidArgumentError } from "../errors.ts";
import {
  checkByteCount,
  elementRange,
  type HostArray,
  type HostArrayConstructor,
} from "../validate.ts";
import type { DeviceBuffer } from "./device_buffer.ts";

/**
 * `length` elements of one typed-array kind in device memory. It is a non-owning view: it dies
 * with the buffer it was made from. Made by {@linkcode DeviceBuffer.typed}.
 */
export class TypedDeviceView<T extends HostArray> {
  /** The element kind, e.g. Float32Array. */
  readonly type: HostArrayConstructor<T>;
  /** Number of elements. */
  readonly length: number;
  /** The byte view underneath. */
  readonly bytes: DeviceBuffer;

  /** Wraps a byte view whose length is a whole number of `type` elements. */
  constructor(type: HostArrayConstructor<T>, bytes: DeviceBuffer) {
    this.type = type;
    this.bytes = bytes;
    this.length = bytes.byteLength / type.BYTES_PER_ELEMENT;
  }

  /** The device address of element 0; throws DisposedError once the memory is freed. */
  get ptr(): bigint {
    return this.bytes.ptr;
  }

  /** Copies `data` (same element kind) to element `elementOffset` onward. */
  copyFromHost(data: T, elementOffset = 0): void {
    this.bytes.copyFromHost(this.#checkData(data, "data"), this.#byteOffset(elementOffset));
  }

  /** Copies every element to a new array of the view's kind. */
  copyToHost(): T;
  /** Fills `target` (same element kind) from element `elementOffset` onward and returns it. */
  copyToHost(target: T, elementOffset?: number): T;
  copyToHost(target?: T, elementOffset = 0): T {
    const destination = target === undefined
      ? new this.type(this.length)
      : this.#checkData(target, "target");
    return this.bytes.copyToHost(destination, this.#byteOffset(elementOffset));
  }

  /** Queues a copy of every element to a new host array on `stream`; resolves with it when done. */
  copyToHostAsync(stream: Stream): Promise<T> {
    return this.bytes.copyToHostAsync(stream, new this.type(this.length));
  }

  /** Queues a copy of `data` to element `elementOffset` onward on `stream`; resolves when done. */
  copyFromHostAsync(data: T, stream: Stream, elementOffset = 0): Promise<void> {
    return this.bytes.copyFromHostAsync(
      this.#checkData(data, "data"),
      stream,
      this.#byteOffset(elementOffset),
    );
  }

  /** Releases this view (the memory is untouched). Idempotent. */
  [Symbol.dispose](): void {
    this.bytes.free();
  }

  #checkData(data: T, argument: string): T {
    if (!(data instanceof this.type)) {
      throw new InvalidArgumentError(argument, `a ${this.type.name}`, data);
    }
    return data;
  }

  #byteOffset(elementOffset: number): number {
    return checkByteCount(elementOffset, "elementOffset") * this.type.BYTES_PER_ELEMENT;
  }
}

/**
 * `count` elements of `type` of `buffer` from element `elementOffset` (default: all whole
 * elements from there); the start must be aligned to the element size. DeviceBuffer.typed's.
 */
export function typedViewOf<T extends HostArray>(
  buffer: DeviceBuffer,
  type: HostArrayConstructor<T>,
  elementOffset: number,
  count: number | undefined,
): TypedDeviceView<T> {
  const { kind, size, elements } = elementRange(type, elementOffset, count, buffer.byteLength);
  if ((buffer.byteOffset + elementOffset * size) % size !== 0) {
    throw new InvalidArgumentError(
      "elementOffset",
      `a start aligned to ${size} bytes for ${kind.name}`,
      `byte offset ${buffer.byteOffset + elementOffset * size}`,
    );
  }
  return new TypedDeviceView(kind, buffer.view(elementOffset * size, elements * size));
}
