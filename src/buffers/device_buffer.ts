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

import { checkOpenStream, Stream, streamDone } from "../cuda/stream.ts";
import { copyBufferToHost, copyHostIntoBuffer, fillBuffer } from "./buffer_io.ts";
import type { MemoryDevice } from "../device/types.ts";
import { DisposedError, formatBytes, InvalidArgumentError } from "../errors.ts";
import { isBlockResource, type MemoryResource, type ResourceBlock } from "../memory/resource.ts";
import {
  bytesOf,
  checkByteCount,
  checkHostArray,
  checkRange,
  type HostArray,
  type HostArrayConstructor,
} from "../validate.ts";
import { type AllocationRecord, giveBack, releaseRecord } from "./allocation.ts";
import {
  forgetNewOwner,
  setSurvivalHandler,
  unwatchRecord,
  watchNewOwner,
} from "./collection_net.ts";
import { activeTracker } from "../tracking/active_tracker.ts";
import { MemoryTracker } from "../tracking/memory_tracker.ts";
import type { LabelEntry, TrackerNode } from "../tracking/tracker_node.ts";
import { type TypedDeviceView, typedViewOf } from "./typed_device_view.ts";
import { workUsing } from "./in_flight.ts";
import { type AllocateOptions, resolveResource } from "./allocate_options.ts";
import { copyBetweenBuffers } from "./buffer_copy.ts";

export type { AllocateOptions } from "./allocate_options.ts";

// Set in DeviceBuffer's static block (which may call its private constructor); see windowBuffer.
let makeWindow: (
  resource: MemoryResource,
  address: bigint,
  bytes: number,
  label: string | undefined,
) => DeviceBuffer;

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
    const resource = resolveResource(options);
    const { stream, label } = options;
    // Zero bytes need no memory; a resource with the block path is freed without a lookup.
    const block = bytes > 0 && isBlockResource(resource)
      ? resource.allocateBlock(bytes, stream, label)
      : undefined;
    const address = block?.address ?? (bytes > 0 ? resource.allocate(bytes, stream) : 0n);
    const buffer = new DeviceBuffer(resource, address, bytes, stream, block, label, 0, null);
    // Counting alone waits for the collection net's sweep: a buffer freed in its task is never
    // counted (see MemoryTracker.recordsAtAllocation).
    const tracker = activeTracker();
    if (tracker?.recordsAtAllocation) tracker.trackNew(buffer.#asNode(), resource.device.id, label);
    watchNewOwner(buffer);
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

  static {
    // The collection net asks at the end of a buffer's first task whether it is still unfreed.
    setSurvivalHandler((owner) => (owner as DeviceBuffer).#outliveTask());
    makeWindow = (resource, address, bytes, label) => {
      const window = new DeviceBuffer(
        resource,
        address,
        bytes,
        undefined,
        undefined,
        label,
        0,
        null,
      );
      window.#external = true;
      return window;
    };
  }

  /** Bytes in this buffer (a view's own length, not its owner's). */
  readonly byteLength: number;
  /** Offset of this buffer in its allocation (0 for an owning buffer). */
  readonly byteOffset: number;
  /** The owning buffer of a view; null for an owning buffer. */
  readonly owner: DeviceBuffer | null;
  readonly #address: bigint;
  readonly #resource: MemoryResource;
  readonly #stream: Stream | undefined;
  readonly #block: ResourceBlock | undefined;
  /** A window over memory something else owns and gives back (windowBuffer): free() only closes it. */
  #external = false;
  readonly #label: string | undefined;
  /** Owner: its memory went back. (A view reads its owner's.) */
  #freed = false;
  /** View: closed by its own free(). */
  #viewClosed = false;
  /** Owner: its record, made once it outlived its first task (collection net, tracker list). */
  #record: AllocationRecord | null = null;
  // An owner is its own tracker node until it gets a record (MemoryTracker writes these through
  // TrackerNode, see #asNode): tracking a buffer freed in its task then allocates nothing.
  private trackId = -1;
  private trackSite: string | undefined = undefined;
  private trackTime = 0;
  private trackStream = 0;
  private trackEntry: LabelEntry | null = null;

  private constructor(
    resource: MemoryResource,
    address: bigint,
    byteLength: number,
    stream: Stream | undefined,
    block: ResourceBlock | undefined,
    label: string | undefined,
    byteOffset: number,
    owner: DeviceBuffer | null,
  ) {
    this.#resource = resource;
    this.#address = address;
    this.byteLength = byteLength;
    this.#stream = stream;
    this.#block = block;
    this.#label = label;
    this.byteOffset = byteOffset;
    this.owner = owner;
  }

  /** The device the memory is on. */
  get device(): MemoryDevice {
    return this.#resource.device;
  }

  /** The resource the memory came from. */
  get resource(): MemoryResource {
    return this.#resource;
  }

  /** The allocation's label, if any. */
  get label(): string | undefined {
    return this.#label;
  }

  /** True for a non-owning view. */
  get isView(): boolean {
    return this.owner !== null;
  }

  /** True once the memory was freed (or this view was closed): every use then throws. */
  get disposed(): boolean {
    return (this.owner ?? this).#freed || this.#viewClosed;
  }

  /** The device address (bigint); throws DisposedError once disposed. */
  get ptr(): bigint {
    if ((this.owner ?? this).#freed || this.#viewClosed) throw this.#disposedError();
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
    const at = this.byteOffset + offset;
    return new DeviceBuffer(
      this.#resource,
      this.#address + BigInt(offset),
      count,
      this.#stream,
      this.#block,
      this.#label,
      at,
      this.owner ?? this,
    );
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
    return typedViewOf(this, type, elementOffset, count);
  }

  /** Copies `data` into this buffer at byte `offset`; returns once the copy is done. */
  copyFromHost(data: HostArray, offset = 0): void {
    copyHostIntoBuffer(this, data, offset);
  }

  /** Copies the whole buffer to a new Uint8Array, or fills `target` from byte `offset`. */
  copyToHost(): Uint8Array;
  /** Fills `target` from byte `offset` of this buffer and returns it. */
  copyToHost<T extends HostArray>(target: T, offset?: number): T;
  copyToHost(target?: HostArray, offset = 0): HostArray {
    return copyBufferToHost(this, target ?? new Uint8Array(this.byteLength), offset);
  }

  /** Copies all of `source` into this buffer at byte `offset`; returns once done. */
  copyFrom(source: DeviceBuffer, offset = 0): void {
    this.#copyFrom(source, offset, undefined);
  }

  /** Sets `length` bytes from `offset` (default: the whole buffer) to `value` (0..255). */
  fill(value: number, offset = 0, length?: number): void {
    fillBuffer(this, value, offset, length);
  }

  /**
   * Queues a copy of `data` into this buffer on `stream`; resolves when the copy is done (work
   * queued after it is not waited for). From pinned memory (a HostBuffer's views, a registered
   * array) the call returns before the DMA ends: keep `data` unchanged until the Promise resolves.
   */
  copyFromHostAsync(data: HostArray, stream: Stream, offset = 0): Promise<void> {
    copyHostIntoBuffer(this, data, offset, stream, this.#streamHandle(stream));
    return streamDone(stream);
  }

  /** Queues a copy of the whole buffer to host on `stream`; resolves with the bytes when done. */
  copyToHostAsync(stream: Stream): Promise<Uint8Array>;
  /**
   * Queues a copy into `target` from byte `offset` on `stream`; resolves with `target` when the
   * copy is done. Into pinned memory the call returns before the DMA ends: read `target` after.
   */
  copyToHostAsync<T extends HostArray>(stream: Stream, target: T, offset?: number): Promise<T>;
  async copyToHostAsync(stream: Stream, target?: HostArray, offset = 0): Promise<HostArray> {
    const destination = target ?? new Uint8Array(this.byteLength);
    copyBufferToHost(this, destination, offset, stream, this.#streamHandle(stream));
    await streamDone(stream);
    return destination;
  }

  /** Queues a copy of `source` into this buffer at `offset` on `stream`; resolves when done. */
  copyFromAsync(source: DeviceBuffer, stream: Stream, offset = 0): Promise<void> {
    this.#streamHandle(stream); // a missing or foreign stream is rejected before the copy
    this.#copyFrom(source, offset, stream);
    return streamDone(stream);
  }

  /** Queues a fill on `stream`; resolves when done. */
  fillAsync(value: number, stream: Stream, offset = 0, length?: number): Promise<void> {
    fillBuffer(this, value, offset, length, this.#streamHandle(stream));
    return streamDone(stream);
  }

  /**
   * Tells the buffer's pool that the memory is used on `stream` too (besides the stream it was
   * allocated on), so that after free() it is not reused until `stream`'s work up to then is done.
   * A no-op for resources without a cache (their free returns the memory to the driver).
   */
  recordStream(stream: Stream): void {
    this.ptr; // throws if disposed
    // Any device of this kind: a peer device's stream may read this memory too.
    if (!(stream instanceof Stream) || stream.device.kind !== this.device.kind) {
      throw new InvalidArgumentError("stream", `a Stream on a ${this.device.kind} device`, stream);
    }
    const resource = this.#resource;
    const block = this.#block;
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
    if (this.#freed) return;
    this.#freed = true; // every view dies now; the memory goes back once nothing uses it
    const busy = workUsing(this);
    if (busy === undefined) this.#release();
    else busy.then(() => this.#release());
  }

  /** Gives a freed owner's memory back (and stops counting it); a window's is not its own. */
  #release(): void {
    if (this.#external) return;
    const record = this.#record;
    if (record !== null) {
      unwatchRecord(record);
      releaseRecord(record);
      return;
    }
    forgetNewOwner(this);
    MemoryTracker.untrackNode(this.#asNode());
    giveBack(this.#resource, this.#address, this.byteLength, this.#block, this.#stream);
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

  /** The tracker node's address (read only by the event log and snapshots). */
  private get trackAddress(): bigint {
    return this.#address;
  }

  /** This owner seen as the tracker's node (its TS-private track* fields). */
  #asNode(): TrackerNode {
    return this as unknown as TrackerNode;
  }

  /**
   * Called when the owner is still in the nursery at a sweep: unfreed, it gets a record (the
   * collection net's held value and the tracker's node, which must not hold the buffer itself),
   * and its tracker fields move there.
   */
  #outliveTask(): AllocationRecord | null {
    if (this.#freed || this.#record !== null) return null;
    const record: AllocationRecord = {
      address: this.#address,
      resource: this.#resource,
      stream: this.#stream,
      block: this.#block,
      label: this.#label,
      freed: false,
      byteLength: this.byteLength,
      trackId: this.trackId,
      trackSite: this.trackSite,
      trackTime: this.trackTime,
      trackStream: this.trackStream,
      trackAddress: this.#address,
      trackEntry: this.trackEntry,
    };
    this.trackEntry = null;
    this.#record = record;
    return record;
  }

  #copyFrom(source: DeviceBuffer, offset: number, stream: Stream | undefined): void {
    if (!(source instanceof DeviceBuffer)) {
      throw new InvalidArgumentError("source", "a DeviceBuffer", source);
    }
    const handle = stream === undefined ? undefined : this.#streamHandle(stream);
    copyBetweenBuffers(this, source, offset, handle);
    if (stream !== undefined && source.device !== this.device) source.recordStream(stream);
  }

  #streamHandle(stream: Stream): Deno.PointerValue {
    return checkOpenStream(stream, this.device, "stream").handle;
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

/**
 * An owning DeviceBuffer over `bytes` at `address` that something else owns and accounts (a
 * ResizableBuffer's mapped range, reserved from `resource`): not tracked nor watched by the
 * collection net; its free() gives nothing back and makes its views unusable. For gpumem's own
 * containers, not exported from mod.ts.
 */
export function windowBuffer(
  resource: MemoryResource,
  address: bigint,
  bytes: number,
  label: string | undefined,
): DeviceBuffer {
  return makeWindow(resource, address, bytes, label);
}
