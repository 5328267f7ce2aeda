/**
 * ResizableBuffer: device memory that grows and shrinks, keeping its data, with one of two
 * strategies behind one class.
 *
 * - "vmm": a range of address space is reserved once (the buffer's limit) and memory is mapped
 *   into it as the buffer grows, unmapped as it shrinks (MemoryPool.reserveGrowable over CUDA's
 *   virtual memory API, or host mmap on the cpu device). Growth costs what is added, not what is
 *   there; the pointer never changes, so views stay valid (except those reaching past a shrink).
 * - "copy": the data lives in one pool block; growing takes a bigger block, copies device to
 *   device on the buffer's stream and frees the old one. The pointer changes, so a resize that
 *   moves the data makes every earlier view throw DisposedError.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import { defaultDevice } from "../device/select.ts";
import type { MemoryDevice } from "../device/types.ts";
import { CapacityError, DisposedError, formatBytes, InvalidArgumentError } from "../errors.ts";
import { defaultResource } from "../memory/default_resources.ts";
import { type GrowableSource, isGrowableSource } from "../memory/growable_source.ts";
import { checkBacked, checkMemoryResource, type MemoryResource } from "../memory/resource.ts";
import {
  bytesOf,
  checkByteCount,
  checkHostArray,
  checkOptions,
  checkPositiveByteCount,
  checkRange,
  type HostArray,
} from "../validate.ts";
import { reportCollected } from "./collection_net.ts";
import { DeviceBuffer } from "./device_buffer.ts";
import { CopiedStorage, MappedStorage, type Storage } from "./resizable_storage.ts";

/** How a ResizableBuffer grows: "vmm" (in place, stable pointer) or "copy" (new block + copy). */
export type ResizeStrategy = "vmm" | "copy";

/** How capacity grows when a resize needs more. */
export interface GrowthPolicy {
  /** New capacity is at least the old one times this (≥ 1; default 2). */
  factor?: number;
  /** New capacity is at least the old one plus this many bytes (default 2 MiB). */
  minStepBytes?: number;
}

/** Options for {@linkcode ResizableBuffer.create}. */
export interface ResizableBufferOptions {
  /** The device (default: the pool's, else {@linkcode defaultDevice}). */
  device?: MemoryDevice;
  /**
   * The resource memory comes from and is accounted in (default: the device's default pool). Any
   * resource serves "copy"; "vmm" needs one that reserves growable ranges (a MemoryPool over CUDA
   * VMM or host mmap).
   */
  pool?: MemoryResource;
  /** "vmm" or "copy"; default "auto": vmm where the pool's upstream can map (CUDA VMM, mmap). */
  strategy?: ResizeStrategy | "auto";
  /**
   * The most bytes the buffer may hold (its own limit, on top of the pool's). Under "vmm" it is
   * the address range reserved (default: the device's total memory).
   */
  maxBytes?: number;
  /** How capacity grows. */
  growth?: GrowthPolicy;
  /** The stream copies and frees are ordered on (copy strategy; default: the legacy stream). */
  stream?: Stream;
  /** A name for reports, e.g. "mesh.vertices". */
  label?: string;
}

const MiB = 1024 * 1024;

const collected = new FinalizationRegistry<{ storage: Storage; device: string; label?: string }>(
  ({ storage, device, label }) => {
    const bytes = storage.capacity;
    let error: unknown;
    try {
      storage.free();
    } catch (caught) {
      error = caught;
    }
    reportCollected({ device, bytes, label, ...(error === undefined ? {} : { error }) });
  },
);

/**
 * Device memory with a length that changes: resize, reserve, shrinkToFit and append keep the
 * data up to the shorter length. See the module's notes for the two strategies and their
 * pointer contracts.
 *
 * @example
 * ```ts
 * import { cpuDevice, ResizableBuffer } from "@gpumem/gpumem";
 * using buffer = ResizableBuffer.create(0, { device: cpuDevice, label: "points" });
 * buffer.append(new Float32Array([1, 2, 3]));
 * buffer.append(new Float32Array([4]));
 * console.log(buffer.length, new Float32Array(buffer.copyToHost().buffer)); // 16 Float32Array(4) [ 1, 2, 3, 4 ]
 * ```
 */
export class ResizableBuffer {
  /** A buffer of `length` bytes (contents undefined), growing as its options say. */
  static create(length = 0, options: ResizableBufferOptions = {}): ResizableBuffer {
    checkByteCount(length, "length");
    checkOptions(options);
    const { label, stream } = options;
    if (label !== undefined && typeof label !== "string") {
      throw new InvalidArgumentError("label", "a string", label);
    }
    const device = options.device ?? options.pool?.device ?? defaultDevice();
    const pool = options.pool ?? defaultResource(device);
    checkMemoryResource(pool, "pool");
    checkBacked(pool, "pool");
    if (pool.device !== device) {
      throw new InvalidArgumentError("pool", `a memory resource on ${device.id}`, pool.name);
    }
    if (stream !== undefined && stream.device !== device) {
      throw new InvalidArgumentError("stream", `a Stream on ${device.id}`, stream.toString());
    }
    const canMap = isGrowableSource(pool);
    const strategy = options.strategy ?? "auto";
    if (strategy !== "auto" && strategy !== "vmm" && strategy !== "copy") {
      throw new InvalidArgumentError("strategy", '"auto", "vmm" or "copy"', strategy);
    }
    if (strategy === "vmm" && !canMap) {
      throw new InvalidArgumentError(
        "strategy",
        `"copy" or "auto" for ${pool.name}, whose upstream cannot map memory in place`,
        strategy,
      );
    }
    const chosen: ResizeStrategy = strategy === "auto" ? (canMap ? "vmm" : "copy") : strategy;
    const maxBytes = options.maxBytes ?? (chosen === "vmm" ? device.memInfo().total : Infinity);
    if (maxBytes !== Infinity) checkPositiveByteCount(maxBytes, "maxBytes");
    const growth = checkOptions(options.growth, "growth");
    const factor = growth.factor ?? 2;
    if (typeof factor !== "number" || !(factor >= 1) || !Number.isFinite(factor)) {
      throw new InvalidArgumentError("growth.factor", "a finite number ≥ 1", factor);
    }
    const minStep = checkByteCount(growth.minStepBytes ?? 2 * MiB, "growth.minStepBytes");
    if (length > maxBytes) {
      throw new CapacityError(`ResizableBuffer(${label ?? device.id})`, length, maxBytes);
    }
    const storage = chosen === "vmm"
      ? new MappedStorage(pool as GrowableSource, maxBytes, label)
      : new CopiedStorage(pool, stream, label);
    const buffer = new ResizableBuffer(storage, chosen, device, label, maxBytes, stream, [
      factor,
      minStep,
    ]);
    try {
      buffer.resize(length);
    } catch (error) {
      storage.free();
      throw error;
    }
    collected.register(buffer, { storage, device: device.id, label }, buffer);
    return buffer;
  }

  /** The strategy in use. */
  readonly strategy: ResizeStrategy;
  /** The device the memory is on. */
  readonly device: MemoryDevice;
  /** The label, if any. */
  readonly label: string | undefined;
  /** The most bytes it may hold. */
  readonly maxBytes: number;
  readonly #storage: Storage;
  readonly #stream: Stream | undefined;
  readonly #factor: number;
  readonly #minStep: number;
  #length = 0;
  #freed = false;

  private constructor(
    storage: Storage,
    strategy: ResizeStrategy,
    device: MemoryDevice,
    label: string | undefined,
    maxBytes: number,
    stream: Stream | undefined,
    [factor, minStep]: [number, number],
  ) {
    this.#storage = storage;
    this.#stream = stream;
    this.strategy = strategy;
    this.device = device;
    this.label = label;
    this.maxBytes = storage instanceof MappedStorage ? storage.maxBytes : maxBytes;
    this.#factor = factor;
    this.#minStep = minStep;
  }

  /** Bytes in use. */
  get length(): number {
    return this.#length;
  }

  /** Bytes it can hold without growing (≥ length). */
  get capacity(): number {
    return this.#freed ? 0 : this.#storage.capacity;
  }

  /** True once freed. */
  get disposed(): boolean {
    return this.#freed;
  }

  /**
   * The device address of byte 0 (0n while a copy-strategy buffer holds nothing). Stable for
   * the buffer's life under "vmm"; under "copy" it changes when a resize moves the data.
   */
  get ptr(): bigint {
    this.#assertLive();
    return this.#storage.address;
  }

  /**
   * Sets the length to `length` bytes. Growing past capacity grows it by the growth policy
   * (at least `length`, at most maxBytes); bytes up to the shorter of the two lengths are kept,
   * the rest are undefined. Past maxBytes: CapacityError, buffer and data unchanged; a failure
   * while growing (out of memory) leaves it unchanged too.
   */
  resize(length: number): void {
    this.#assertLive();
    checkByteCount(length, "length");
    if (length > this.capacity) this.#grow(length, this.#plannedCapacity(length));
    this.#length = length;
  }

  /** Makes capacity at least `bytes` (exactly what is asked, rounded as the strategy rounds). */
  reserve(bytes: number): void {
    this.#assertLive();
    checkByteCount(bytes, "bytes");
    if (bytes > this.capacity) this.#grow(bytes, bytes);
  }

  /**
   * Lowers capacity to the length (under "vmm", to the mapped pieces the length still needs).
   * Under "copy" this moves the data: earlier views die.
   */
  shrinkToFit(): void {
    this.#assertLive();
    this.#storage.shrink(this.#length, this.#length);
  }

  /** Appends host data or a device buffer's bytes at the end, growing as needed. */
  append(data: HostArray | DeviceBuffer): void {
    this.#assertLive();
    const at = this.#length;
    if (!(data instanceof DeviceBuffer)) {
      const bytes = bytesOf(checkHostArray(data, "data"));
      this.resize(at + bytes.byteLength);
      this.#hostToDevice(at, bytes);
      return;
    }
    const count = data.byteLength;
    const from = data.ptr; // throws DisposedError before anything changes
    if (data.device !== this.device) {
      throw new InvalidArgumentError("data", `a buffer on ${this.device.id}`, data.toString());
    }
    // Growing by copy frees the old block: bytes of our own must be saved from it first.
    const base = this.#storage.address;
    const moves = this.strategy === "copy" && at + count > this.capacity;
    const ours = from < base + BigInt(this.capacity) && base < from + BigInt(count);
    const staged = moves && ours ? DeviceBuffer.allocate(count, { device: this.device }) : null;
    try {
      if (staged !== null) staged.copyFrom(data);
      this.resize(at + count);
      const source = staged?.ptr ?? from;
      this.device.ops.deviceToDevice(
        this.#storage.address + BigInt(at),
        source,
        count,
        this.#handle,
      );
      this.#settle();
    } finally {
      staged?.free();
    }
  }

  /**
   * A view of `length` bytes from `offset` (default: to the end of the length). Under "vmm" it
   * stays valid across growth (until a shrink unmaps memory under it); under "copy" the next
   * resize that moves the data makes it throw DisposedError.
   */
  view(offset = 0, length?: number): DeviceBuffer {
    this.#assertLive();
    const count = length ?? this.#length - checkByteCount(offset, "offset");
    checkRange(offset, count, this.#length);
    return this.#storage.view(offset, count);
  }

  /** Copies `data` in at byte `offset` (within the length). */
  copyFromHost(data: HostArray, offset = 0): void {
    this.#assertLive();
    const bytes = bytesOf(checkHostArray(data));
    checkRange(offset, bytes.byteLength, this.#length);
    this.#hostToDevice(offset, bytes);
  }

  /** The first `length` bytes, copied to a new Uint8Array. */
  copyToHost(): Uint8Array {
    this.#assertLive();
    const bytes = new Uint8Array(this.#length);
    if (this.#length > 0) {
      this.device.ops.deviceToHost(bytes, this.#storage.address, this.#handle);
      this.#settle();
    }
    return bytes;
  }

  /** Gives the memory back; views die. Idempotent. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    collected.unregister(this);
    this.#storage.free();
  }

  /** Same as {@linkcode ResizableBuffer.free}. */
  [Symbol.dispose](): void {
    this.free();
  }

  /** `ResizableBuffer(cuda:0, vmm, 3.00 MiB of 4.00 MiB, "label")`. */
  toString(): string {
    const parts = [this.device.id, this.strategy];
    parts.push(`${formatBytes(this.#length)} of ${formatBytes(this.capacity)}`);
    if (this.label !== undefined) parts.push(JSON.stringify(this.label));
    if (this.#freed) parts.push("freed");
    return `ResizableBuffer(${parts.join(", ")})`;
  }

  /** Capacity for `length` by the growth policy, capped at maxBytes. */
  #plannedCapacity(length: number): number {
    const capacity = this.capacity;
    const planned = Math.max(length, Math.ceil(capacity * this.#factor), capacity + this.#minStep);
    return Math.min(planned, this.maxBytes);
  }

  /**
   * Grows to `capacity` bytes (≥ `needed`, as #plannedCapacity and reserve give it); CapacityError
   * when `needed` is past maxBytes.
   */
  #grow(needed: number, capacity: number): void {
    if (needed > this.maxBytes) throw new CapacityError(this.toString(), needed, this.maxBytes);
    this.#storage.grow(capacity, this.#length);
  }

  /** The stream's handle: host copies are ordered after the copies a resize queued there. */
  get #handle(): Deno.PointerValue | undefined {
    return this.#stream?.handle;
  }

  /** Copies host bytes in at `offset` on the buffer's stream and waits for them. */
  #hostToDevice(offset: number, bytes: Uint8Array): void {
    this.device.ops.hostToDevice(this.#storage.address + BigInt(offset), bytes, this.#handle);
    this.#settle();
  }

  /** Waits for the buffer's stream (the host-facing methods return with their copy done). */
  #settle(): void {
    this.#stream?.synchronize();
  }

  #assertLive(): void {
    if (this.#freed) throw new DisposedError(this.toString());
  }
}
