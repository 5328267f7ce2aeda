/**
 * DeviceBuffer: a range of device memory with one owner, and views that die with it.
 *
 * Ownership is decided at construction and never changes: `DeviceBuffer.allocate` makes the one
 * owning buffer of an allocation; `view()` makes non-owning buffers that keep the owner reachable
 * and check, on every use, that its memory has not been freed. A view can never free memory, and
 * no buffer can hand a freed address to the driver: the double-free and dangling-view bugs of a
 * hand-rolled `m_owned` flag cannot be written.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import { defaultDevice } from "../device/select.ts";
import type { MemoryDevice } from "../device/types.ts";
import { DisposedError, formatBytes, InvalidArgumentError } from "../errors.ts";
import { defaultResource } from "../memory/default_resources.ts";
import { isBlockResource, type MemoryResource } from "../memory/resource.ts";
import {
  bytesOf,
  checkByteCount,
  checkByteValue,
  checkHostArray,
  checkHostArrayConstructor,
  checkRange,
  type HostArray,
  type HostArrayConstructor,
} from "../validate.ts";
import { type Allocation, releaseAllocation } from "./allocation.ts";
import { unwatchOwner, watchOwner } from "./collection_net.ts";
import { activeTracker } from "../tracking/active_tracker.ts";
import { TypedDeviceView } from "./typed_device_view.ts";

/** Options for {@linkcode DeviceBuffer.allocate}. */
export interface AllocateOptions {
  /** The device (default: the resource's device, else {@linkcode defaultDevice}). */
  device?: MemoryDevice;
  /** The resource to allocate from (default: the device's default resource). */
  resource?: MemoryResource;
  /** The stream to order the allocation and its free on (stream-ordered resources). */
  stream?: Stream;
  /** A name for reports and leak messages, e.g. "bvh.nodes". */
  label?: string;
}

/**
 * Device memory with an owner. Free it with `using`, free() or a BufferBatch; a buffer the garbage
 * collector finds unfreed is freed and reported, as a safety net only.
 *
 * @example
 * ```ts
 * import { DeviceBuffer } from "@gpumem/gpumem";
 * using buffer = DeviceBuffer.allocate(16, { label: "example" });
 * buffer.copyFromHost(new Float32Array([1, 2, 3, 4]));
 * const back = buffer.typed(Float32Array).copyToHost();
 * console.log(back); // Float32Array(4) [ 1, 2, 3, 4 ]
 * ```
 */
export class DeviceBuffer {
  /** Allocates `bytes` bytes (0 allowed) and returns their owning buffer. */
  static allocate(bytes: number, options: AllocateOptions = {}): DeviceBuffer {
    checkByteCount(bytes, "bytes");
    const { resource, stream, label } = resolveAllocateOptions(options);
    // Zero bytes need no memory; a resource with the block path is freed without a lookup.
    const block = bytes > 0 && isBlockResource(resource)
      ? resource.allocateBlock(bytes, stream, label)
      : undefined;
    const address = block?.address ?? (bytes > 0 ? resource.allocate(bytes, stream) : 0n);
    const tracker = activeTracker() ?? undefined;
    const allocation: Allocation = {
      address,
      bytes,
      resource,
      stream,
      block,
      tracker,
      label,
      freed: false,
      watched: false,
      // The tracker's node fields, written out: a spread here costs more than the whole pool.
      trackId: -1,
      trackSite: undefined,
      trackTime: NaN,
      trackStream: 0,
      trackEntry: null,
    };
    tracker?.track(allocation, resource.device.id, label, true);
    const buffer = new DeviceBuffer(allocation, 0, bytes, null);
    watchOwner(buffer, allocation);
    return buffer;
  }

  /** Allocates a buffer the size of `data` and copies `data` into it. */
  static fromHost(data: HostArray, options: AllocateOptions = {}): DeviceBuffer {
    const bytes = bytesOf(checkHostArray(data));
    const buffer = DeviceBuffer.allocate(bytes.byteLength, options);
    try {
      buffer.copyFromHost(bytes);
    } catch (error) {
      buffer.free();
      throw error;
    }
    return buffer;
  }

  /** Bytes in this buffer (a view's own length, not its owner's). */
  readonly byteLength: number;
  /** Offset of this buffer in its allocation (0 for an owning buffer). */
  readonly byteOffset: number;
  /** The owning buffer of a view; null for an owning buffer. */
  readonly owner: DeviceBuffer | null;
  readonly #allocation: Allocation;
  readonly #address: bigint;
  #viewClosed = false;

  private constructor(
    allocation: Allocation,
    byteOffset: number,
    byteLength: number,
    owner: DeviceBuffer | null,
  ) {
    this.#allocation = allocation;
    this.byteOffset = byteOffset;
    this.byteLength = byteLength;
    this.owner = owner;
    this.#address = byteOffset === 0 ? allocation.address : allocation.address + BigInt(byteOffset);
  }

  /** The device the memory is on. */
  get device(): MemoryDevice {
    return this.#allocation.resource.device;
  }

  /** The resource the memory came from. */
  get resource(): MemoryResource {
    return this.#allocation.resource;
  }

  /** The allocation's label, if any. */
  get label(): string | undefined {
    return this.#allocation.label;
  }

  /** True for a non-owning view. */
  get isView(): boolean {
    return this.owner !== null;
  }

  /** True once the memory was freed (or this view was closed): every use then throws. */
  get disposed(): boolean {
    return this.#allocation.freed || this.#viewClosed;
  }

  /** The device address (bigint); throws DisposedError once disposed. */
  get ptr(): bigint {
    if (this.#allocation.freed || this.#viewClosed) throw this.#disposedError();
    return this.#address;
  }

  /**
   * A non-owning view of `length` bytes at `offset` (default: to the end). It stays valid while
   * the owner's memory lives; after the owner is freed, using it throws DisposedError.
   */
  view(offset: number, length?: number): DeviceBuffer {
    this.ptr; // throws if disposed
    const count = length ?? this.byteLength - checkByteCount(offset, "offset");
    checkRange(offset, count, this.byteLength);
    return new DeviceBuffer(this.#allocation, this.byteOffset + offset, count, this.owner ?? this);
  }

  /**
   * A typed view of this buffer's memory: `count` elements of `type` from element `elementOffset`
   * (default: all whole elements from there). Its byte offset must be a multiple of the element size.
   */
  typed<T extends HostArray>(
    type: HostArrayConstructor<T>,
    elementOffset = 0,
    count?: number,
  ): TypedDeviceView<T> {
    const kind = checkHostArrayConstructor(type) as HostArrayConstructor<T>;
    const size = kind.BYTES_PER_ELEMENT;
    checkByteCount(elementOffset, "elementOffset");
    const elements = count ?? Math.floor(this.byteLength / size) - elementOffset;
    checkByteCount(elements, "count");
    if ((this.byteOffset + elementOffset * size) % size !== 0) {
      throw new InvalidArgumentError(
        "elementOffset",
        `a start aligned to ${size} bytes for ${kind.name}`,
        `byte offset ${this.byteOffset + elementOffset * size}`,
      );
    }
    return new TypedDeviceView(kind, this.view(elementOffset * size, elements * size));
  }

  /** Copies `data` into this buffer at byte `offset`; returns once the copy is done. */
  copyFromHost(data: HostArray, offset = 0): void {
    const bytes = bytesOf(checkHostArray(data));
    checkRange(offset, bytes.byteLength, this.byteLength);
    this.device.ops.hostToDevice(this.ptr + BigInt(offset), bytes);
  }

  /** Copies the whole buffer to a new Uint8Array, or fills `target` from byte `offset`. */
  copyToHost(): Uint8Array;
  /** Fills `target` from byte `offset` of this buffer and returns it. */
  copyToHost<T extends HostArray>(target: T, offset?: number): T;
  copyToHost(target?: HostArray, offset = 0): HostArray {
    const destination = target ?? new Uint8Array(this.byteLength);
    const bytes = bytesOf(checkHostArray(destination, "target"));
    checkRange(offset, bytes.byteLength, this.byteLength);
    this.device.ops.deviceToHost(bytes, this.ptr + BigInt(offset));
    return destination;
  }

  /** Copies all of `source` into this buffer at byte `offset`; returns once done. */
  copyFrom(source: DeviceBuffer, offset = 0): void {
    this.#copyFrom(source, offset, undefined);
  }

  /** Sets `length` bytes from `offset` (default: the whole buffer) to `value` (0..255). */
  fill(value: number, offset = 0, length?: number): void {
    this.#fill(value, offset, length, undefined);
  }

  /**
   * Queues a copy of `data` into this buffer on `stream`; resolves when the stream has done it.
   * Keep `data` unchanged until then.
   */
  copyFromHostAsync(data: HostArray, stream: Stream, offset = 0): Promise<void> {
    const bytes = bytesOf(checkHostArray(data));
    checkRange(offset, bytes.byteLength, this.byteLength);
    const handle = this.#streamHandle(stream);
    this.device.ops.hostToDevice(this.ptr + BigInt(offset), bytes, handle);
    return stream.synchronizeAsync();
  }

  /** Queues a copy of the whole buffer to host on `stream`; resolves with the bytes when done. */
  copyToHostAsync(stream: Stream): Promise<Uint8Array>;
  /** Queues a copy into `target` from byte `offset` on `stream`; resolves with `target` when done. */
  copyToHostAsync<T extends HostArray>(stream: Stream, target: T, offset?: number): Promise<T>;
  async copyToHostAsync(stream: Stream, target?: HostArray, offset = 0): Promise<HostArray> {
    const destination = target ?? new Uint8Array(this.byteLength);
    const bytes = bytesOf(checkHostArray(destination, "target"));
    checkRange(offset, bytes.byteLength, this.byteLength);
    const handle = this.#streamHandle(stream);
    this.device.ops.deviceToHost(bytes, this.ptr + BigInt(offset), handle);
    await stream.synchronizeAsync();
    return destination;
  }

  /** Queues a copy of `source` into this buffer at `offset` on `stream`; resolves when done. */
  copyFromAsync(source: DeviceBuffer, stream: Stream, offset = 0): Promise<void> {
    this.#copyFrom(source, offset, stream);
    return stream.synchronizeAsync();
  }

  /** Queues a fill on `stream`; resolves when done. */
  fillAsync(value: number, stream: Stream, offset = 0, length?: number): Promise<void> {
    this.#fill(value, offset, length, stream);
    return stream.synchronizeAsync();
  }

  /**
   * Tells the buffer's pool that the memory is used on `stream` too (besides the stream it was
   * allocated on), so that after free() it is not reused until `stream`'s work up to then is done.
   * A no-op for resources without a cache (their free returns the memory to the driver).
   */
  recordStream(stream: Stream): void {
    this.ptr; // throws if disposed
    this.#streamHandle(stream); // throws unless a live stream on this device
    const { resource, block } = this.#allocation;
    if (block !== undefined && isBlockResource(resource)) resource.recordStream(block, stream);
  }

  /**
   * Owning buffer: gives the memory back to its resource (ordered on the allocation's stream, if
   * any); every view of it becomes unusable. View: makes this view unusable, memory untouched.
   * Idempotent.
   */
  free(): void {
    if (this.owner !== null) {
      this.#viewClosed = true;
      return;
    }
    if (this.#allocation.freed) return;
    unwatchOwner(this.#allocation);
    releaseAllocation(this.#allocation);
  }

  /** Same as {@linkcode DeviceBuffer.free}. */
  [Symbol.dispose](): void {
    this.free();
  }

  /** `DeviceBuffer(cuda:0, 1.00 MiB, "label")`, with `view` or `freed` when they apply. */
  toString(): string {
    const parts = [this.device.id, formatBytes(this.byteLength)];
    if (this.label !== undefined) parts.push(JSON.stringify(this.label));
    if (this.isView) parts.push(`view at +${this.byteOffset}`);
    if (this.disposed) parts.push("freed");
    return `DeviceBuffer(${parts.join(", ")})`;
  }

  #copyFrom(source: DeviceBuffer, offset: number, stream: Stream | undefined): void {
    if (!(source instanceof DeviceBuffer)) {
      throw new InvalidArgumentError("source", "a DeviceBuffer", source);
    }
    checkRange(offset, source.byteLength, this.byteLength);
    if (source.device.kind !== this.device.kind) {
      throw new InvalidArgumentError(
        "source",
        `a buffer on a ${this.device.kind} device (use copyToHost/copyFromHost across kinds)`,
        source.toString(),
      );
    }
    const handle = stream === undefined ? undefined : this.#streamHandle(stream);
    const from = source.ptr;
    const to = this.ptr + BigInt(offset);
    const length = BigInt(source.byteLength);
    if (source.#allocation === this.#allocation && from < to + length && to < from + length) {
      throw new InvalidArgumentError(
        "source",
        "a range that does not overlap the destination",
        source.toString(),
      );
    }
    this.device.ops.deviceToDevice(to, from, source.byteLength, handle);
  }

  #fill(
    value: number,
    offset: number,
    length: number | undefined,
    stream: Stream | undefined,
  ): void {
    checkByteValue(value);
    const count = length ?? this.byteLength - checkByteCount(offset, "offset");
    checkRange(offset, count, this.byteLength);
    const handle = stream === undefined ? undefined : this.#streamHandle(stream);
    this.device.ops.fill(this.ptr + BigInt(offset), value, count, handle);
  }

  #streamHandle(stream: Stream): Deno.PointerValue {
    if (stream?.device !== this.device) {
      throw new InvalidArgumentError("stream", `a Stream on ${this.device.id}`, stream);
    }
    return stream.handle;
  }

  #disposedError(): DisposedError {
    if (this.#viewClosed) {
      return new DisposedError(this.toString(), "was used after the view was closed");
    }
    return new DisposedError(
      this.toString(),
      this.isView ? "was used after its owner was freed" : "was used after it was freed",
    );
  }
}

function resolveAllocateOptions(options: AllocateOptions): {
  resource: MemoryResource;
  stream: Stream | undefined;
  label: string | undefined;
} {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError("options", "an object", options);
  }
  const { label, stream } = options;
  if (label !== undefined && typeof label !== "string") {
    throw new InvalidArgumentError("label", "a string", label);
  }
  const device = options.device ?? options.resource?.device ?? defaultDevice();
  const resource = options.resource ?? defaultResource(device);
  if (resource.device !== device) {
    throw new InvalidArgumentError("resource", `a resource on ${device.id}`, resource.name);
  }
  if (stream !== undefined && stream.device !== device) {
    throw new InvalidArgumentError("stream", `a Stream on ${device.id}`, stream.toString());
  }
  return { resource, stream, label };
}
