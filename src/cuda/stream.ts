/**
 * Streams: ordered queues of device work.
 *
 * @module
 */

import { CU_STREAM_NON_BLOCKING, CUresult } from "../../ffi/cuda.ts";
import { DisposedError } from "../errors.ts";
import type { MemoryDevice } from "../device/types.ts";
import { check, cudaDriver, cudaErrorOf } from "./driver.ts";
import type { Event } from "./event.ts";

const pointerOut = new BigUint64Array(1);

/**
 * A non-blocking CUDA stream (it does not synchronise with the legacy default stream). On the cpu
 * device a stream has no handle and work on it completes before each call returns.
 *
 * @example
 * ```ts
 * import { cpuDevice, Stream } from "@gpumem/gpumem";
 * using stream = new Stream(cpuDevice);
 * await stream.synchronizeAsync();
 * ```
 */
export class Stream {
  /** The device the stream belongs to. */
  readonly device: MemoryDevice;
  #handle: Deno.PointerValue;
  #closed = false;

  /** Creates a stream on `device` (cuStreamCreate with CU_STREAM_NON_BLOCKING). */
  constructor(device: MemoryDevice) {
    this.device = device;
    this.#handle = null;
    if (device.kind === "cuda") {
      device.activate();
      check(
        cudaDriver().symbols.cuStreamCreate(pointerOut, CU_STREAM_NON_BLOCKING),
        "cuStreamCreate",
      );
      this.#handle = Deno.UnsafePointer.create(pointerOut[0]);
      device.retainUser();
    }
  }

  /** The CUstream (null on the cpu device); throws DisposedError once closed. */
  get handle(): Deno.PointerValue {
    if (this.#closed) throw new DisposedError(this.toString(), "was used after close()");
    return this.#handle;
  }

  /** Whether {@linkcode Stream.close} has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Blocks the thread until all work queued so far is done. */
  synchronize(): void {
    const handle = this.handle;
    if (handle !== null) {
      check(cudaDriver().symbols.cuStreamSynchronize(handle), "cuStreamSynchronize");
    }
  }

  /** Resolves when all work queued so far is done, without blocking the event loop. */
  async synchronizeAsync(): Promise<void> {
    const handle = this.handle;
    if (handle === null) return;
    const { symbols } = cudaDriver();
    const result = await symbols.cuStreamSynchronizeAsync(handle);
    if (result !== CUresult.SUCCESS) throw cudaErrorOf(symbols, "cuStreamSynchronize", result);
  }

  /** True when all work queued so far is done (cuStreamQuery), without waiting. */
  query(): boolean {
    const handle = this.handle;
    if (handle === null) return true;
    const { symbols } = cudaDriver();
    const result = symbols.cuStreamQuery(handle);
    if (result === CUresult.ERROR_NOT_READY) return false;
    check(result, "cuStreamQuery", symbols);
    return true;
  }

  /** Makes work queued on this stream from now on wait for `event` (cuStreamWaitEvent). */
  waitEvent(event: Event): void {
    const handle = this.handle;
    const eventHandle = event.handle;
    if (handle === null || eventHandle === null) return;
    check(cudaDriver().symbols.cuStreamWaitEvent(handle, eventHandle, 0), "cuStreamWaitEvent");
  }

  /** Destroys the stream after its queued work (cuStreamDestroy). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#handle === null) return;
    const handle = this.#handle;
    this.#handle = null;
    if (this.device.kind === "cuda") this.device.releaseUser();
    check(cudaDriver().symbols.cuStreamDestroy_v2(handle), "cuStreamDestroy_v2");
  }

  /** Same as {@linkcode Stream.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Stream(cuda:0)`. */
  toString(): string {
    return `Stream(${this.device.id})`;
  }
}
