/**
 * A TransferPipeline's options, the options of its uploadEach, and the totals it keeps; the
 * pipeline's sizes and thread count checked and defaulted before anything is opened.
 *
 * @module
 */

import type { DeviceBuffer } from "../buffers/device_buffer.ts";
import type { Stream } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { FaultOptions } from "../fault_schedule.ts";
import type { MemoryPool } from "../memory/pool/memory_pool.ts";
import { checkByteCount, checkOptions, checkPositiveByteCount } from "../validate.ts";

/** Options for {@linkcode TransferPipeline}. */
export interface TransferPipelineOptions {
  /** The device transferred to and from (default: the default device). */
  device?: MemoryDevice;
  /**
   * Largest piece a transfer is cut into, in bytes (default 2 MiB): one DMA each. The first
   * pieces are smaller (from 256 KiB, each twice the last) so that the DMA engine starts early.
   * Staging takes up to four pinned slots of this size.
   */
  chunkBytes?: number;
  /**
   * Native threads copying at once (default: cores − 4, 2 to 12; at most 256): each copies a
   * slice of every piece (64 KiB at least), so a piece's host copy is short.
   */
  hostThreads?: number;
  /**
   * Pageable transfers smaller than this go through the driver's own staging on the pipeline's
   * stream instead (default 1 MiB: below it that path is as fast; bench/RESULTS.md); 0 stages
   * every transfer.
   */
  directBelow?: number;
  /**
   * Staged transfers of at least this many bytes run on a worker thread, keeping the event loop
   * free; smaller ones block it while they run (default 32 MiB: ~1 ms at most on an H100 host,
   * where the hop to a worker thread costs 40–60 µs, a third of a 4 MiB transfer and a seventh of
   * a 16 MiB one; bench/RESULTS.md). 0: always off the thread.
   */
  offThreadFrom?: number;
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
  /** Pieces staged through pinned buffers. */
  stagedChunks: number;
  /**
   * Transfers that skipped staging: pinned or registered memory, below directBelow, or any
   * pageable one when the kernel library (which does the staging) is not built.
   */
  direct: number;
  /** Bytes moved. */
  bytes: number;
  /** Transfers that failed (their Promise rejected). */
  failed: number;
}

/** The sizes and thread count of a pipeline made with `options` (InvalidArgumentError if bad). */
export function resolvePipelineOptions(options: TransferPipelineOptions): {
  chunkBytes: number;
  directBelow: number;
  offThreadFrom: number;
  hostThreads: number;
} {
  checkOptions(options);
  const chunkBytes = checkPositiveByteCount(options.chunkBytes ?? 2 << 20, "chunkBytes");
  const directBelow = checkByteCount(options.directBelow ?? 1 << 20, "directBelow");
  const offThreadFrom = checkByteCount(options.offThreadFrom ?? 32 << 20, "offThreadFrom");
  // Measured on a 16-core H100 host: one core copies ~9 GB/s and 8 to 12 copies at once keep
  // the DMA engine busy (bench/RESULTS.md); a few cores stay free for the event loop.
  const hostThreads = options.hostThreads ??
    Math.max(2, Math.min(12, navigator.hardwareConcurrency - 4));
  if (!Number.isSafeInteger(hostThreads) || hostThreads < 1 || hostThreads > 256) {
    throw new InvalidArgumentError("hostThreads", "an integer from 1 to 256", hostThreads);
  }
  return { chunkBytes, directBelow, offThreadFrom, hostThreads };
}
