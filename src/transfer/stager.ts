/**
 * The kernel library's stager (csrc/staged_copy.cpp): a pool of native threads that copy a
 * pageable transfer into pinned staging slots, or out of them, piece by piece while the DMAs of
 * other pieces run; every thread copies a slice of each piece. One FFI call per transfer; the
 * piece loop never enters JavaScript.
 *
 * @module
 */

import { KernelStatus, STAGE_CALL_NAMES, STAGE_REPORT } from "../../ffi/kernels.ts";
import { cudaDriver, cudaErrorOf } from "../cuda/driver.ts";
import type { MemoryDevice } from "../device/types.ts";
import { GpumemError, KernelLibraryUnavailableError } from "../errors.ts";
import { checkKernelStatus, type KernelLibrary, kernelLibrary } from "../kernels/library.ts";

/** How far a staged transfer got (struct gm_stage_report). */
export interface StageReport {
  /** Pieces whose copy finished. */
  piecesDone: number;
  /** The first piece that failed, or -1. */
  failedPiece: number;
}

/** How a staged transfer is cut, and the staging it needs. */
export interface StagePlan {
  /** Pieces. */
  pieces: number;
  /** Staging slots (pinned buffers) the stager uses. */
  slots: number;
  /** Bytes each slot must hold: the largest piece. */
  slotBytes: number;
}

/** One staged transfer. */
export interface StageRequest {
  /** Host to device (else device to host). */
  toDevice: boolean;
  /** The pageable bytes. */
  host: Uint8Array;
  /** The device address (a host address on the cpu device). */
  device: bigint;
  /** Bytes of the first piece; later pieces grow to `piece`. */
  firstPiece: number;
  /** Bytes pieces grow to at most. */
  piece: number;
  /** Pinned staging addresses, as many as and as large as {@linkcode Stager.plan} says. */
  slots: BigUint64Array;
  /** The stream the DMAs go to (null on the cpu device). */
  stream: Deno.PointerValue;
  /** Null, or one byte per piece: nonzero makes the piece fail (tests). */
  failPieces: Uint8Array | null;
}

/** Thrown by {@linkcode Stager.run} for a piece marked to fail; carries the piece's index. */
export class InjectedPieceFailure extends GpumemError {
  /** The piece that failed. */
  readonly piece: number;

  /** Creates the failure of `piece`. */
  constructor(piece: number) {
    super(`piece ${piece} failed on purpose`);
    this.piece = piece;
  }
}

/**
 * Idle stager threads poll this long for the next transfer before they sleep: transfers that
 * follow each other then skip a wake-up of tens of microseconds. Only when the threads leave
 * two cores free: polling threads a machine has no core for slow everything else down.
 */
function spinMicrosecondsFor(threads: number): number {
  return threads <= navigator.hardwareConcurrency - 2 ? 200 : 0;
}

/** A native stager for one device; close() stops its threads. */
export class Stager {
  /** Workers per transfer (the calling thread and threads − 1 native ones). */
  readonly threads: number;
  readonly #library: KernelLibrary;
  readonly #device: MemoryDevice;
  #handle: bigint;
  readonly #report = new BigUint64Array(4);
  readonly #plan = new BigUint64Array(3);

  private constructor(
    library: KernelLibrary,
    device: MemoryDevice,
    handle: bigint,
    threads: number,
  ) {
    this.#library = library;
    this.#device = device;
    this.#handle = handle;
    this.threads = threads;
  }

  /**
   * A stager with `threads` workers for `device`, or null when the kernel library is not built
   * (transfers then take the driver's own staging).
   */
  static open(
    device: MemoryDevice,
    threads: number,
    spinMicroseconds = spinMicrosecondsFor(threads),
  ): Stager | null {
    let library: KernelLibrary;
    try {
      library = kernelLibrary(device.kind);
    } catch (error) {
      // Not built: the pipeline falls back. A build that does not match (ABI) is reported.
      if (error instanceof KernelLibraryUnavailableError) return null;
      throw error;
    }
    const cuda = device.kind === "cuda";
    const path = cuda ? new TextEncoder().encode(cudaDriver().path + "\0") : null;
    const out = new BigUint64Array(1);
    const status = library.symbols.gm_stager_create(
      path,
      cuda ? device.context : null,
      threads,
      spinMicroseconds,
      out,
    );
    checkKernelStatus(library, status, "gm_stager_create");
    return new Stager(library, device, out[0], threads);
  }

  /**
   * How a `bytes`-byte transfer is cut: its piece count, and the staging it needs (a ring of up
   * to four slots, each as large as the largest piece).
   */
  plan(bytes: number, firstPiece: number, piece: number): StagePlan {
    const plan = this.#plan;
    const status = this.#library.symbols.gm_stage_plan(
      BigInt(bytes),
      BigInt(firstPiece),
      BigInt(piece),
      plan,
    );
    checkKernelStatus(this.#library, status, "gm_stage_plan");
    return { pieces: Number(plan[0]), slots: Number(plan[1]), slotBytes: Number(plan[2]) };
  }

  /**
   * Runs `request`: on a worker thread when `offThread` (the event loop stays free; the hop costs
   * ~40 µs), else on the calling thread. Resolves once every piece is done; after a failure
   * rejects, once nothing it queued still runs, with CudaError or, for a piece marked in
   * `failPieces`, InjectedPieceFailure. Keep every array alive until it settles.
   */
  async run(request: StageRequest, offThread: boolean): Promise<StageReport> {
    if (this.#handle === 0n) throw new GpumemError("the stager was closed");
    const report = this.#report;
    report.fill(0n);
    const { symbols } = this.#library;
    const args = [
      this.#handle,
      request.toDevice ? 1 : 0,
      request.host,
      request.device,
      BigInt(request.host.byteLength),
      BigInt(request.firstPiece),
      BigInt(request.piece),
      request.slots,
      request.stream,
      request.failPieces,
      report,
    ] as const;
    const status = offThread
      ? await symbols.gm_stager_run(...args)
      : symbols.gm_stager_run_here(...args);
    const result = {
      piecesDone: Number(report[STAGE_REPORT.piecesDone]),
      failedPiece: report[STAGE_REPORT.failedPiece] === 0xffff_ffff_ffff_ffffn
        ? -1
        : Number(report[STAGE_REPORT.failedPiece]),
    };
    if (status === KernelStatus.OK) return result;
    if (status === KernelStatus.INJECTED_FAULT) throw new InjectedPieceFailure(result.failedPiece);
    if (status === KernelStatus.CUDA_ERROR && this.#device.kind === "cuda") {
      const call = STAGE_CALL_NAMES[Number(report[STAGE_REPORT.call])] ??
        "a staged copy's driver call";
      throw cudaErrorOf(cudaDriver().symbols, call, Number(report[STAGE_REPORT.cudaResult]));
    }
    throw new GpumemError(`gm_stager_run failed (status ${status})`);
  }

  /** Stops the threads. Idempotent; no run may be in flight. */
  close(): void {
    if (this.#handle === 0n) return;
    this.#library.symbols.gm_stager_destroy(this.#handle);
    this.#handle = 0n;
  }
}
