/**
 * Staged transfers of pageable typed arrays: pieces go through pinned staging buffers on a
 * dedicated transfer stream, several host copies (native threads, csrc/staged_copy.cpp) running
 * at once while the DMAs of earlier pieces run, in both directions; and uploads that overlap
 * compute.
 *
 * @module
 */

import { DeviceBuffer } from "../buffers/device_buffer.ts";
import { holdDuring } from "../buffers/in_flight.ts";
import { checkOpenStream, Stream, streamDone } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";
import { GpumemError, InvalidArgumentError, TransferError } from "../errors.ts";
import { FaultSchedule } from "../fault_schedule.ts";
import type { MemoryPool } from "../memory/pool/memory_pool.ts";
import {
  bytesOf,
  checkOptions,
  checkPositiveByteCount,
  checkRange,
  checkStableHostArray,
  type HostArray,
} from "../validate.ts";
import { registrationCovering } from "./host_registration.ts";
import { pinnedOwnerOf } from "../buffers/pinned_owner.ts";
import { InjectedPieceFailure, Stager } from "./stager.ts";
import { uploadEachChunk } from "./upload_each.ts";
import { pinnedPoolOf } from "./pinned_pool.ts";
import {
  resolvePipelineOptions,
  type TransferPipelineOptions,
  type TransferStats,
  type UploadEachOptions,
} from "./transfer_options.ts";

export type {
  TransferPipelineOptions,
  TransferStats,
  UploadEachOptions,
} from "./transfer_options.ts";

/** The first piece of a staged transfer: small, so that its DMA starts soon (bench/RESULTS.md). */
const FIRST_PIECE = 256 << 10;
/** Staging buffers are whole pages. */
const PAGE = 4096;

/**
 * A dedicated transfer stream with staging. upload() and download() take any typed array: pinned
 * or registered memory goes straight to the DMA engine; pageable memory is cut into pieces that
 * go through pinned staging buffers, several host copies running at once on native threads
 * while the DMAs of pieces copied before them run (without the kernel library, csrc/, pageable
 * memory takes the driver's own staging).
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
  /** Host copies running at once. */
  readonly hostThreads: number;
  /** Pageable transfers below this many bytes skip the staging (the driver stages them). */
  readonly directBelow: number;
  /**
   * Staged transfers of at least this many bytes run on a worker thread; smaller ones run on the
   * calling thread, blocking the event loop while they run, since the hop to a worker thread
   * costs more than it saves there.
   */
  readonly offThreadFrom: number;
  readonly #pool: MemoryPool;
  readonly #faults: FaultSchedule | null;
  /** The native threads that stage pageable memory; null without the kernel library. */
  readonly #stager: Stager | null;
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
    const { chunkBytes, directBelow, offThreadFrom, hostThreads: threads } = resolvePipelineOptions(
      options,
    );
    this.directBelow = directBelow;
    this.offThreadFrom = offThreadFrom;
    const { device, pool } = pinnedPoolOf(options);
    this.#faults = options.faults === undefined ? null : new FaultSchedule(options.faults);
    this.device = device;
    this.chunkBytes = chunkBytes;
    this.hostThreads = threads;
    this.#pool = pool;
    this.stream = new Stream(device);
    try {
      this.#stager = Stager.open(device, threads);
    } catch (error) {
      this.stream.close();
      throw error;
    }
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
    return this.#holding(
      target,
      this.#run(() => {
        const bytes = bytesOf(checkStableHostArray(source, "source"));
        this.#checkBuffer(target, "target", offset, bytes.byteLength);
        return () => this.#transfer(target, offset, bytes, true);
      }),
    );
  }

  /**
   * Copies `target.byteLength` bytes of `source` from byte `offset` into `target`; resolves with
   * `target` once every byte has landed there.
   */
  download<T extends HostArray>(source: DeviceBuffer, target: T, offset = 0): Promise<T> {
    return this.#holding(
      source,
      this.#run(() => {
        const bytes = bytesOf(checkStableHostArray(target, "target"));
        this.#checkBuffer(source, "source", offset, bytes.byteLength);
        return async () => {
          await this.#transfer(source, offset, bytes, false);
          return target;
        };
      }),
    );
  }

  /**
   * `work`, with `buffer`'s memory held until it settles: a free while the transfer runs waits
   * for it (one freed before the transfer's turn rejects it with DisposedError instead).
   */
  #holding<T>(buffer: DeviceBuffer, work: Promise<T>): Promise<T> {
    if (buffer instanceof DeviceBuffer && !buffer.disposed) {
      holdDuring(buffer.owner ?? buffer, work);
    }
    return work;
  }

  /**
   * Uploads `source` chunk by chunk into two device buffers in turn and hands each to `process`,
   * which queues work on `options.compute`: chunk i+1 is uploaded while chunk i is processed.
   * Resolves when the last chunk's processing is done.
   */
  uploadEach(source: HostArray, options: UploadEachOptions): Promise<void> {
    return this.#run(() => {
      const bytes = bytesOf(checkStableHostArray(source, "source"));
      checkOptions(options);
      const chunk = checkPositiveByteCount(options.chunkBytes ?? this.chunkBytes, "chunkBytes");
      const { compute, process } = options;
      checkOpenStream(compute, this.device, "compute");
      if (compute === this.stream) {
        throw new InvalidArgumentError("compute", "another stream than the pipeline's", compute);
      }
      if (typeof process !== "function") {
        throw new InvalidArgumentError("process", "a function", process);
      }
      const upload = (buffer: DeviceBuffer, piece: Uint8Array) =>
        this.#transfer(buffer, 0, piece, true);
      return () =>
        uploadEachChunk(
          this.stream,
          upload,
          bytes,
          Math.min(chunk, Math.max(1, bytes.byteLength)),
          options,
        );
    });
  }

  /**
   * Stops the staging threads and destroys the stream. GpumemError while a transfer is running
   * (await it first). Idempotent.
   */
  close(): void {
    if (this.stream.closed) return;
    if (this.#running > 0) {
      throw new GpumemError(
        `TransferPipeline(${this.device.id}) has ${this.#running} transfers running`,
      );
    }
    this.#stager?.close();
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
    let work: () => Promise<T>;
    try {
      work = prepare();
    } catch (error) {
      this.#stats.failed++; // rejected input is a failed transfer too
      throw error;
    }
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
   * it), a pageable transfer below directBelow, or any without a stager.
   */
  #direct(bytes: Uint8Array): boolean {
    if (this.#stager === null || pinnedOwnerOf(bytes) !== undefined) return true;
    if (bytes.byteLength < this.directBelow) return true;
    const address = Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes));
    return registrationCovering(address, bytes.byteLength) !== undefined;
  }

  /** One copy straight between `host` (pinned or registered) and the device; resolves when done. */
  async #copyDirect(device: bigint, host: Uint8Array, toDevice: boolean): Promise<void> {
    this.#injectFault(host.byteLength, toDevice);
    if (toDevice) this.device.ops.hostToDevice(device, host, this.stream.handle);
    else this.device.ops.deviceToHost(host, device, this.stream.handle);
    pinnedOwnerOf(host)?.recordStream(this.stream);
    await streamDone(this.stream);
    this.#stats.direct++;
  }

  /** Moves `host` to (or from) `buffer` at `offset`: straight when it can, else staged. */
  /** Moves `host` to or from `buffer` at `offset`; DisposedError if it was freed before its turn. */
  async #transfer(
    buffer: DeviceBuffer,
    offset: number,
    host: Uint8Array,
    toDevice: boolean,
  ): Promise<void> {
    const total = host.byteLength;
    if (total === 0) return;
    buffer.recordStream(this.stream);
    const address = buffer.ptr + BigInt(offset);
    if (this.#direct(host)) await this.#copyDirect(address, host, toDevice);
    else await this.#stage(this.#stager as Stager, address, host, toDevice);
    this.#stats.bytes += total;
  }

  /**
   * Moves pageable `host` through pinned staging (the stager's ring of slots, cut from one block
   * of the pool, given back whatever happens) with the stager; resolves once every piece is
   * done.
   */
  async #stage(stager: Stager, device: bigint, host: Uint8Array, toDevice: boolean): Promise<void> {
    const total = host.byteLength;
    const piece = Math.min(this.chunkBytes, Math.ceil(total / PAGE) * PAGE);
    const first = Math.min(FIRST_PIECE, piece);
    const plan = stager.plan(total, first, piece);
    const faults = this.#plannedFaults(plan.pieces, piece, toDevice);
    const staging = DeviceBuffer.allocate(plan.slots * plan.slotBytes, {
      resource: this.#pool,
      label: "transfer.staging",
    });
    try {
      const slots = new BigUint64Array(plan.slots);
      for (let i = 0; i < slots.length; i++) slots[i] = staging.ptr + BigInt(i * plan.slotBytes);
      const request = {
        toDevice,
        host,
        device,
        firstPiece: first,
        piece,
        slots,
        stream: this.stream.handle,
        failPieces: faults.marks,
      };
      const report = await stager
        .run(request, total >= this.offThreadFrom)
        .catch((error) => {
          throw error instanceof InjectedPieceFailure ? faults.errors.get(error.piece) : error;
        });
      this.#stats.stagedChunks += report.piecesDone;
    } finally {
      staging.free(); // the stager returns only once none of its DMAs still runs
    }
  }

  /**
   * With a fault schedule, which of a transfer's `pieces` are to fail (one attempt per piece, in
   * order) and the error each throws; none without.
   */
  #plannedFaults(
    pieces: number,
    piece: number,
    toDevice: boolean,
  ): { marks: Uint8Array | null; errors: Map<number, unknown> } {
    const errors = new Map<number, unknown>();
    if (this.#faults === null) return { marks: null, errors };
    const marks = new Uint8Array(pieces);
    for (let index = 0; index < pieces; index++) {
      try {
        this.#injectFault(piece, toDevice);
      } catch (error) {
        marks[index] = 1;
        errors.set(index, error);
      }
    }
    return { marks, errors };
  }

  /** TransferError when the fault schedule (the `faults` option) says this piece fails. */
  #injectFault(bytes: number, toDevice: boolean): void {
    if (this.#faults?.fails() !== true) return;
    const f = this.#faults;
    throw new TransferError(
      toDevice ? "to device" : "to host",
      bytes,
      true,
      `injected failure ${f.injected} (attempt ${f.attempts}) on ${this.device.id}`,
    );
  }
}
