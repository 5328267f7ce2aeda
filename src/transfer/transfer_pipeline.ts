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
  checkByteCount,
  checkPositiveByteCount,
  checkRange,
  checkStableHostArray,
  type HostArray,
} from "../validate.ts";
import { copyHostOffThread } from "./host_copy.ts";
import { registrationCovering } from "./host_registration.ts";
import { pinnedOwnerOf } from "./pinned_owner.ts";
import { StagingRing } from "./staging_ring.ts";

/** Options for {@linkcode TransferPipeline}. */
export interface TransferPipelineOptions {
  /** The device transferred to and from (default: the default device). */
  device?: MemoryDevice;
  /**
   * Largest piece a transfer is cut into, in bytes (default 4 MiB); smaller transfers use
   * smaller pieces (down to 256 KiB) so that every worker gets some.
   */
  chunkBytes?: number;
  /** Pinned staging buffers, one per piece in flight, at least 2 (default hostThreads + 2). */
  stagingBuffers?: number;
  /** Host copies running at once, each on a worker thread (default: cores − 4, 2 to 12). */
  hostThreads?: number;
  /**
   * Pageable transfers smaller than this go through the driver's own staging on the pipeline's
   * stream instead (default 8 MiB: below it that path is faster, as it skips the worker-thread
   * round trips; bench/RESULTS.md); 0 stages every transfer.
   */
  directBelow?: number;
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
  /** Transfers that skipped staging: pinned or registered memory, or below directBelow. */
  direct: number;
  /** Bytes moved. */
  bytes: number;
  /** Transfers that failed (their Promise rejected). */
  failed: number;
}

/** No piece is made smaller than this when a transfer is split for overlap. */
const MIN_PIECE = 256 << 10;

/**
 * Runs `piece(index)` for every index below `count` on `width` workers, each taking the next
 * index when done with one. After a failure no new piece starts; once the running ones are
 * done, the first error is thrown.
 */
async function runWindowed(
  count: number,
  width: number,
  piece: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < count) {
      const index = next++;
      try {
        await piece(index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

/**
 * A dedicated transfer stream with staging. upload() and download() take any typed array: pinned
 * or registered memory goes straight to the DMA engine; pageable memory is cut into pieces that
 * go through two or more pinned staging buffers, several host copies running at once on worker
 * threads while the DMAs of pieces copied before them run.
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
  /** Largest piece in bytes. */
  readonly chunkBytes: number;
  /** Staging buffers per transfer (most pieces in flight). */
  readonly stagingBuffers: number;
  /** Host copies running at once. */
  readonly hostThreads: number;
  /** Pageable transfers below this many bytes skip the staging (the driver stages them). */
  readonly directBelow: number;
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
    const chunkBytes = checkPositiveByteCount(options.chunkBytes ?? 4 << 20, "chunkBytes");
    this.directBelow = checkByteCount(options.directBelow ?? 8 << 20, "directBelow");
    // Measured on a 16-core H100 host: 12 copies at once move 1 GiB at ~43 GB/s, 8 at ~36, 4 at
    // ~21 (bench/RESULTS.md); a few cores stay free for the event loop and the driver.
    const threads = options.hostThreads ??
      Math.max(2, Math.min(12, navigator.hardwareConcurrency - 4));
    if (!Number.isSafeInteger(threads) || threads < 1) {
      throw new InvalidArgumentError("hostThreads", "a positive integer", threads);
    }
    const staging = options.stagingBuffers ?? threads + 2;
    if (!Number.isSafeInteger(staging) || staging < 2) {
      throw new InvalidArgumentError("stagingBuffers", "an integer of at least 2", staging);
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
      return () => this.#transfer(target, offset, bytes, true);
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
        await this.#transfer(source, offset, bytes, false);
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

  /**
   * Whether `bytes` go straight to the driver: pinned or registered memory (the DMA engine reads
   * it), or a pageable transfer below directBelow.
   */
  #direct(bytes: Uint8Array): boolean {
    if (pinnedOwnerOf(bytes) !== undefined || bytes.byteLength < this.directBelow) return true;
    const address = Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes));
    return registrationCovering(address, bytes.byteLength) !== undefined;
  }

  /** Host copies running at once: one per worker, each with a staging buffer. */
  get #width(): number {
    return Math.min(this.hostThreads, this.stagingBuffers);
  }

  /** The piece size for `total` bytes: small enough that every worker gets one. */
  #pieceFor(total: number): number {
    return Math.min(this.chunkBytes, Math.max(MIN_PIECE, Math.ceil(total / this.#width)));
  }

  /** One copy straight between `host` (pinned or registered) and the device; resolves when done. */
  async #copyDirect(device: bigint, host: Uint8Array, toDevice: boolean): Promise<void> {
    this.#injectFault(host.byteLength);
    if (toDevice) this.device.ops.hostToDevice(device, host, this.stream.handle);
    else this.device.ops.deviceToHost(host, device, this.stream.handle);
    pinnedOwnerOf(host)?.recordStream(this.stream);
    await streamDone(this.stream);
    this.#stats.direct++;
  }

  /** Moves `host` to (or from) `buffer` at `offset`: straight when it can, else staged. */
  async #transfer(
    buffer: DeviceBuffer,
    offset: number,
    host: Uint8Array,
    toDevice: boolean,
  ): Promise<void> {
    const total = host.byteLength;
    if (total === 0) return;
    buffer.recordStream(this.stream);
    if (this.#direct(host)) await this.#copyDirect(buffer.ptr + BigInt(offset), host, toDevice);
    else {
      const piece = this.#pieceFor(total);
      await this.#withRing(
        Math.ceil(total / piece),
        piece,
        (ring) =>
          toDevice
            ? this.#stageUp(ring, piece, buffer, offset, host)
            : this.#stageDown(ring, piece, buffer, offset, host),
      );
    }
    this.#stats.bytes += total;
  }

  /**
   * Queues `source` to `target` at `offset` piece by piece: each worker copies a piece into a
   * staging buffer on a worker thread, then queues its DMA, so host copies run side by side and
   * overlap the DMAs. Resolves once every DMA is queued (not done).
   */
  #stageUp(
    ring: StagingRing,
    piece: number,
    target: DeviceBuffer,
    offset: number,
    source: Uint8Array,
  ): Promise<void> {
    const handle = this.stream.handle;
    return this.#eachPiece(ring, piece, source.byteLength, async (slot, staging, at) => {
      await copyHostOffThread(staging, source.subarray(at, at + staging.byteLength));
      this.#injectFault(staging.byteLength);
      this.device.ops.hostToDevice(target.ptr + BigInt(offset + at), staging, handle);
      ring.queued(slot);
    });
  }

  /**
   * Copies `source` at `offset` into `target` piece by piece: each worker queues a piece's DMA
   * into a staging buffer, waits for it to land, then copies it out on a worker thread, so DMAs
   * and host copies overlap. Resolves once every piece is in `target`.
   */
  #stageDown(
    ring: StagingRing,
    piece: number,
    source: DeviceBuffer,
    offset: number,
    target: Uint8Array,
  ): Promise<void> {
    const handle = this.stream.handle;
    return this.#eachPiece(ring, piece, target.byteLength, async (slot, staging, at) => {
      this.#injectFault(staging.byteLength);
      this.device.ops.deviceToHost(staging, source.ptr + BigInt(offset + at), handle);
      ring.queued(slot);
      await ring.landed(slot);
      await copyHostOffThread(target.subarray(at, at + staging.byteLength), staging);
    });
  }

  /**
   * Runs `move` for every `piece`-byte piece of `total` bytes on the pipeline's workers, each with
   * a staging slot of its own (free of earlier DMAs) and the piece's byte offset; the slot goes
   * back to the ring whatever happens.
   */
  #eachPiece(
    ring: StagingRing,
    piece: number,
    total: number,
    move: (slot: number, staging: Uint8Array, at: number) => Promise<void>,
  ): Promise<void> {
    return runWindowed(Math.ceil(total / piece), this.#width, async (index) => {
      const at = index * piece;
      const slot = await ring.acquire();
      try {
        await move(slot, await ring.take(slot, Math.min(piece, total - at)), at);
        this.#stats.stagedChunks++;
      } finally {
        ring.release(slot);
      }
    });
  }

  async #uploadEach(source: Uint8Array, chunk: number, options: UploadEachOptions): Promise<void> {
    const { compute, process } = options;
    const total = source.byteLength;
    const chunks = Math.ceil(total / chunk);
    const buffers: DeviceBuffer[] = [];
    const uploaded: Event[] = [];
    const processed: Event[] = [];
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
      const piece = this.#pieceFor(chunk);
      await this.#withRing(Math.ceil(chunk / piece), piece, async (ring) => {
        for (let index = 0; index < chunks; index++) {
          const at = index * chunk;
          const length = Math.min(chunk, total - at);
          const pair = index % 2;
          // The buffer is free once compute has done chunk index - 2.
          if (index >= 2) this.stream.waitEvent(processed[pair]);
          await this.#stageUp(ring, piece, buffers[pair], 0, source.subarray(at, at + length));
          uploaded[pair].record(this.stream);
          compute.waitEvent(uploaded[pair]);
          await process(buffers[pair].view(0, length), index, at);
          processed[pair].record(compute);
        }
      });
      this.#stats.bytes += total;
    } finally {
      // The last chunk's processing, or after a failure what compute had queued, is done before
      // the Promise settles.
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
    pieces: number,
    bytes: number,
    work: (ring: StagingRing) => Promise<void>,
  ): Promise<void> {
    const ring = new StagingRing(
      this.#pool,
      Math.min(pieces, this.stagingBuffers),
      bytes,
      this.stream,
    );
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
