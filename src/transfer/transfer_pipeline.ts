/**
 * Staged transfers of pageable typed arrays: chunks go through a ring of pinned staging buffers
 * on a dedicated transfer stream, so the host copy of one chunk (spread over several cores)
 * overlaps the DMA of the one before, in both directions; and uploads that overlap compute.
 *
 * @module
 */

import { DeviceBuffer } from "../buffers/device_buffer.ts";
import { Event } from "../cuda/event.ts";
import { Stream, streamDone } from "../cuda/stream.ts";
import { defaultDevice } from "../device/select.ts";
import type { MemoryDevice } from "../device/types.ts";
import { GpumemError, InvalidArgumentError } from "../errors.ts";
import { defaultPinnedPool } from "../memory/default_resources.ts";
import { type FaultOptions, FaultSchedule } from "../memory/fault_injecting_resource.ts";
import type { MemoryPool } from "../memory/pool/memory_pool.ts";
import {
  bytesOf,
  checkPositiveByteCount,
  checkRange,
  checkStableHostArray,
  type HostArray,
} from "../validate.ts";
import { copyHost } from "./host_copy.ts";
import { registrationCovering } from "./host_registration.ts";
import { pinnedOwnerOf } from "./pinned_owner.ts";
import { StagingRing } from "./staging_ring.ts";

/** Options for {@linkcode TransferPipeline}. */
export interface TransferPipelineOptions {
  /** The device transferred to and from (default: the default device). */
  device?: MemoryDevice;
  /** Largest chunk in bytes (default 16 MiB); smaller transfers use smaller chunks. */
  chunkBytes?: number;
  /** Pinned staging buffers per transfer, at least 2 (default 3). */
  stagingBuffers?: number;
  /** Worker threads copying each chunk on the host (default: up to 8, by the cores present). */
  hostThreads?: number;
  /** The pinned pool staging buffers come from (default: the device's). */
  pool?: MemoryPool;
  /** Fail chunk copies on purpose, as a FaultInjectingResource fails allocations (tests). */
  faults?: FaultOptions;
}

/** Options for {@linkcode TransferPipeline.uploadEach}. */
export interface UploadEachOptions {
  /** Bytes per chunk handed to `process` (default: the pipeline's chunkBytes). */
  chunkBytes?: number;
  /** The stream `process` queues its work on; it must not be the pipeline's own. */
  compute: Stream;
  /**
   * Called once per chunk, in order, with a device buffer holding it (valid until the work
   * `process` queued on `compute` is done), the chunk's index and its byte offset in the source.
   * Queue work on `compute` and return; a returned Promise is awaited before the next chunk.
   */
  process: (chunk: DeviceBuffer, index: number, byteOffset: number) => void | Promise<void>;
}

/** Totals of a pipeline's work so far. */
export interface TransferStats {
  /** Transfers finished (uploads, downloads and uploadEach calls). */
  transfers: number;
  /** Chunks staged through pinned buffers. */
  stagedChunks: number;
  /** Transfers that skipped staging because the host memory was pinned or registered. */
  direct: number;
  /** Bytes moved. */
  bytes: number;
  /** Transfers that failed (their Promise rejected). */
  failed: number;
}

/** No chunk is made smaller than this when a transfer is split for overlap. */
const MIN_CHUNK = 1 << 20;
/** A transfer is split into at least this many chunks when it is large enough. */
const MIN_CHUNKS = 4;

/**
 * A dedicated transfer stream with staging. upload() and download() take any typed array: pinned
 * or registered memory goes straight to the DMA engine; pageable memory is staged chunk by chunk
 * through two or more pinned buffers, host copies of one chunk overlapping the DMA of another.
 * Calls on one pipeline run one after another. A chunk that fails rejects the transfer's Promise
 * once nothing it started is still running, and its staging buffers go back to the pool.
 *
 * @example
 * ```ts
 * import { cpuDevice, DeviceBuffer, TransferPipeline } from "@gpumem/gpumem";
 * using pipeline = new TransferPipeline({ device: cpuDevice });
 * using buffer = DeviceBuffer.allocate(4 << 20, { device: cpuDevice });
 * const data = new Float32Array(1 << 20).fill(1.5);
 * await pipeline.upload(buffer, data);
 * const back = await pipeline.download(buffer, new Float32Array(1 << 20));
 * console.log(back[0]); // 1.5
 * ```
 */
export class TransferPipeline {
  /** The device transferred to and from. */
  readonly device: MemoryDevice;
  /** The pipeline's own stream: every DMA it queues runs there. */
  readonly stream: Stream;
  /** Largest chunk in bytes. */
  readonly chunkBytes: number;
  /** Staging buffers per transfer. */
  readonly stagingBuffers: number;
  /** Worker threads per host copy. */
  readonly hostThreads: number;
  readonly #pool: MemoryPool;
  readonly #faults: FaultSchedule | null;
  /** The last call's completion: calls run in order, sharing the stream. */
  #queue: Promise<unknown> = Promise.resolve();
  #running = 0;
  readonly #stats: TransferStats = {
    transfers: 0,
    stagedChunks: 0,
    direct: 0,
    bytes: 0,
    failed: 0,
  };

  /** A pipeline with a new stream on the device; InvalidArgumentError for bad options. */
  constructor(options: TransferPipelineOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError("options", "an object", options);
    }
    const chunkBytes = checkPositiveByteCount(options.chunkBytes ?? 16 << 20, "chunkBytes");
    const staging = options.stagingBuffers ?? 3;
    if (!Number.isSafeInteger(staging) || staging < 2) {
      throw new InvalidArgumentError("stagingBuffers", "an integer of at least 2", staging);
    }
    const threads = options.hostThreads ?? Math.min(8, navigator.hardwareConcurrency);
    if (!Number.isSafeInteger(threads) || threads < 1) {
      throw new InvalidArgumentError("hostThreads", "a positive integer", threads);
    }
    const device = options.device ?? options.pool?.device ?? defaultDevice();
    const pool = options.pool ?? defaultPinnedPool(device);
    if (pool.device !== device) {
      throw new InvalidArgumentError("pool", `a pinned pool of ${device.id}`, pool.name);
    }
    this.#faults = options.faults === undefined ? null : new FaultSchedule(options.faults);
    this.device = device;
    this.chunkBytes = chunkBytes;
    this.stagingBuffers = staging;
    this.hostThreads = threads;
    this.#pool = pool;
    this.stream = new Stream(device);
  }

  /** Totals so far. */
  stats(): TransferStats {
    return { ...this.#stats };
  }

  /**
   * Copies `source` into `target` from byte `offset`; resolves when the data is on the device.
   * Keep `source` unchanged until then. Typed errors (bad arrays, ranges, a freed or foreign
   * buffer) reject before any driver call.
   */
  upload(target: DeviceBuffer, source: HostArray, offset = 0): Promise<void> {
    return this.#run(() => {
      const bytes = bytesOf(checkStableHostArray(source, "source"));
      this.#checkBuffer(target, "target", offset, bytes.byteLength);
      return () => this.#upload(target, offset, bytes);
    });
  }

  /**
   * Copies `target.byteLength` bytes of `source` from byte `offset` into `target`; resolves with
   * `target` once every byte has landed there.
   */
  download<T extends HostArray>(source: DeviceBuffer, target: T, offset = 0): Promise<T> {
    return this.#run(() => {
      const bytes = bytesOf(checkStableHostArray(target, "target"));
      this.#checkBuffer(source, "source", offset, bytes.byteLength);
      return async () => {
        await this.#download(source, offset, bytes);
        return target;
      };
    });
  }

  /**
   * Uploads `source` chunk by chunk into two device buffers in turn and hands each to `process`,
   * which queues work on `options.compute`: chunk i+1 is uploaded while chunk i is processed.
   * Resolves when the last chunk's processing is done.
   */
  uploadEach(source: HostArray, options: UploadEachOptions): Promise<void> {
    return this.#run(() => {
      const bytes = bytesOf(checkStableHostArray(source, "source"));
      if (options === null || typeof options !== "object") {
        throw new InvalidArgumentError("options", "an object", options);
      }
      const chunk = checkPositiveByteCount(options.chunkBytes ?? this.chunkBytes, "chunkBytes");
      const { compute, process } = options;
      if (!(compute instanceof Stream) || compute.device !== this.device || compute.closed) {
        throw new InvalidArgumentError("compute", `an open Stream on ${this.device.id}`, compute);
      }
      if (compute === this.stream) {
        throw new InvalidArgumentError("compute", "another stream than the pipeline's", compute);
      }
      if (typeof process !== "function") {
        throw new InvalidArgumentError("process", "a function", process);
      }
      return () => this.#uploadEach(bytes, Math.min(chunk, Math.max(1, bytes.byteLength)), options);
    });
  }

  /** Destroys the stream. GpumemError while a transfer is running (await it first). Idempotent. */
  close(): void {
    if (this.stream.closed) return;
    if (this.#running > 0) {
      throw new GpumemError(
        `TransferPipeline(${this.device.id}) has ${this.#running} transfers running`,
      );
    }
    this.stream.close();
  }

  /** Same as {@linkcode TransferPipeline.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Validates now (so bad input rejects before any driver call), then runs the work after the
   * calls queued before it; counts successes and failures.
   */
  async #run<T>(prepare: () => () => Promise<T>): Promise<T> {
    if (this.stream.closed) throw new GpumemError(`TransferPipeline(${this.device.id}) was closed`);
    const work = prepare();
    this.#running++;
    const previous = this.#queue;
    const result = previous.then(work);
    this.#queue = result.catch(() => {});
    try {
      const value = await result;
      this.#stats.transfers++;
      return value;
    } catch (error) {
      this.#stats.failed++;
      throw error;
    } finally {
      this.#running--;
    }
  }

  #checkBuffer(buffer: DeviceBuffer, argument: string, offset: number, bytes: number): void {
    if (!(buffer instanceof DeviceBuffer)) {
      throw new InvalidArgumentError(argument, "a DeviceBuffer", buffer);
    }
    buffer.ptr; // DisposedError once freed
    if (buffer.device !== this.device) {
      throw new InvalidArgumentError(
        argument,
        `a DeviceBuffer on ${this.device.id}`,
        buffer.toString(),
      );
    }
    checkRange(offset, bytes, buffer.byteLength);
  }

  /** Whether `bytes` can go straight to the DMA engine (pinned or registered memory). */
  #direct(bytes: Uint8Array): boolean {
    if (pinnedOwnerOf(bytes) !== undefined) return true;
    if (bytes.byteLength === 0) return false;
    const address = Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes));
    return registrationCovering(address, bytes.byteLength) !== undefined;
  }

  /** The chunk size for a transfer of `total` bytes: split in at least MIN_CHUNKS when it can. */
  #chunkFor(total: number): number {
    return Math.max(
      1,
      Math.min(this.chunkBytes, Math.max(MIN_CHUNK, Math.ceil(total / MIN_CHUNKS))),
    );
  }

  async #upload(target: DeviceBuffer, offset: number, source: Uint8Array): Promise<void> {
    const total = source.byteLength;
    if (total === 0) return;
    const handle = this.stream.handle;
    const ops = this.device.ops;
    target.recordStream(this.stream);
    if (this.#direct(source)) {
      this.#injectFault(total);
      ops.hostToDevice(target.ptr + BigInt(offset), source, handle);
      pinnedOwnerOf(source)?.recordStream(this.stream);
      await streamDone(this.stream);
      this.#stats.direct++;
      this.#stats.bytes += total;
      return;
    }
    const chunk = this.#chunkFor(total);
    const chunks = Math.ceil(total / chunk);
    await this.#withRing(Math.min(this.stagingBuffers, chunks), chunk, async (ring) => {
      for (let index = 0; index < chunks; index++) {
        const at = index * chunk;
        const length = Math.min(chunk, total - at);
        const slot = index % ring.size;
        const staging = await ring.take(slot, length);
        await copyHost(staging, source.subarray(at, at + length), this.hostThreads);
        this.#injectFault(length);
        ops.hostToDevice(target.ptr + BigInt(offset + at), staging, handle);
        ring.queued(slot);
        this.#stats.stagedChunks++;
      }
    });
    this.#stats.bytes += total;
  }

  async #download(source: DeviceBuffer, offset: number, target: Uint8Array): Promise<void> {
    const total = target.byteLength;
    if (total === 0) return;
    const handle = this.stream.handle;
    const ops = this.device.ops;
    source.recordStream(this.stream);
    if (this.#direct(target)) {
      this.#injectFault(total);
      ops.deviceToHost(target, source.ptr + BigInt(offset), handle);
      pinnedOwnerOf(target)?.recordStream(this.stream);
      await streamDone(this.stream);
      this.#stats.direct++;
      this.#stats.bytes += total;
      return;
    }
    const chunk = this.#chunkFor(total);
    const chunks = Math.ceil(total / chunk);
    await this.#withRing(Math.min(this.stagingBuffers, chunks), chunk, async (ring) => {
      const queue = async (index: number) => {
        const at = index * chunk;
        const length = Math.min(chunk, total - at);
        const slot = index % ring.size;
        const staging = await ring.take(slot, length);
        this.#injectFault(length);
        ops.deviceToHost(staging, source.ptr + BigInt(offset + at), handle);
        ring.queued(slot);
        this.#stats.stagedChunks++;
        return staging;
      };
      const landing: Uint8Array[] = [];
      for (let index = 0; index < Math.min(ring.size, chunks); index++) {
        landing.push(await queue(index));
      }
      for (let index = 0; index < chunks; index++) {
        const slot = index % ring.size;
        await ring.landed(slot);
        const at = index * chunk;
        await copyHost(
          target.subarray(at, at + landing[slot].byteLength),
          landing[slot],
          this.hostThreads,
        );
        if (index + ring.size < chunks) landing[slot] = await queue(index + ring.size);
      }
    });
    this.#stats.bytes += total;
  }

  async #uploadEach(source: Uint8Array, chunk: number, options: UploadEachOptions): Promise<void> {
    const { compute, process } = options;
    const total = source.byteLength;
    const chunks = Math.ceil(total / chunk);
    const buffers: DeviceBuffer[] = [];
    const uploaded: Event[] = [];
    const processed: Event[] = [];
    const handle = this.stream.handle;
    try {
      for (let i = 0; i < Math.min(2, chunks); i++) {
        const buffer = DeviceBuffer.allocate(chunk, {
          device: this.device,
          label: "transfer.chunk",
        });
        buffers.push(buffer);
        buffer.recordStream(this.stream);
        buffer.recordStream(compute);
        uploaded.push(new Event(this.device, { timing: false }));
        processed.push(new Event(this.device, { timing: false }));
      }
      await this.#withRing(Math.min(this.stagingBuffers, chunks), chunk, async (ring) => {
        for (let index = 0; index < chunks; index++) {
          const at = index * chunk;
          const length = Math.min(chunk, total - at);
          const slot = index % ring.size;
          const pair = index % 2;
          const staging = await ring.take(slot, length);
          await copyHost(staging, source.subarray(at, at + length), this.hostThreads);
          // The buffer is free once compute has done chunk index - 2.
          if (index >= 2) this.stream.waitEvent(processed[pair]);
          this.#injectFault(length);
          this.device.ops.hostToDevice(buffers[pair].ptr, staging, handle);
          ring.queued(slot);
          uploaded[pair].record(this.stream);
          compute.waitEvent(uploaded[pair]);
          this.#stats.stagedChunks++;
          await process(buffers[pair].view(0, length), index, at);
          processed[pair].record(compute);
        }
        await streamDone(compute);
      });
      this.#stats.bytes += total;
    } finally {
      // A failed chunk: let compute finish what was queued before the Promise settles.
      if (!compute.closed) await streamDone(compute);
      for (const buffer of buffers) buffer.free();
      for (const event of [...uploaded, ...processed]) event.close();
    }
  }

  /**
   * Runs `work` with a staging ring; whatever happens, waits until nothing it queued is still
   * running, then gives the staging buffers back.
   */
  async #withRing(
    count: number,
    bytes: number,
    work: (ring: StagingRing) => Promise<void>,
  ): Promise<void> {
    const ring = new StagingRing(this.#pool, count, bytes, this.stream);
    try {
      await work(ring);
    } finally {
      try {
        await streamDone(this.stream);
      } finally {
        ring.close();
      }
    }
  }

  #injectFault(bytes: number): void {
    this.#faults?.attempt(bytes, this.device, "TransferPipeline (injected chunk failure)");
  }
}
