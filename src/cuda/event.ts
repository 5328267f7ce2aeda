/**
 * Events: markers in a stream, to wait on, query, order other streams after, and time with.
 *
 * @module
 */

import { CU_EVENT_DEFAULT, CU_EVENT_DISABLE_TIMING, CUresult } from "../../ffi/cuda.ts";
import { DisposedError, GpumemError } from "../errors.ts";
import type { MemoryDevice } from "../device/types.ts";
import { check, cudaDriver, cudaErrorOf } from "./driver.ts";
import type { Stream } from "./stream.ts";

const pointerOut = new BigUint64Array(1);
const floatOut = new Float32Array(1);

/** Options for {@linkcode Event}. */
export interface EventOptions {
  /** Record timing data so {@linkcode Event.elapsedSince} works (default true). */
  timing?: boolean;
}

/**
 * A CUDA event. On the cpu device, record() notes the host clock (work there is already done).
 *
 * @example
 * ```ts
 * import { cpuDevice, Event, Stream } from "@gpumem/gpumem";
 * using stream = new Stream(cpuDevice);
 * using start = new Event(cpuDevice);
 * using end = new Event(cpuDevice);
 * start.record(stream);
 * end.record(stream);
 * end.synchronize();
 * console.log(end.elapsedSince(start), "ms");
 * ```
 */
export class Event {
  /** The device the event belongs to. */
  readonly device: MemoryDevice;
  /** Whether the event records timing data. */
  readonly timing: boolean;
  #handle: Deno.PointerValue = null;
  #closed = false;
  #recordedAt = NaN;

  /** Creates an event on `device` (cuEventCreate). */
  constructor(device: MemoryDevice, options: EventOptions = {}) {
    this.device = device;
    this.timing = options.timing ?? true;
    if (device.kind === "cuda") {
      device.activate();
      const flags = this.timing ? CU_EVENT_DEFAULT : CU_EVENT_DISABLE_TIMING;
      check(cudaDriver().symbols.cuEventCreate(pointerOut, flags), "cuEventCreate");
      this.#handle = Deno.UnsafePointer.create(pointerOut[0]);
      device.retainUser();
    }
  }

  /** The CUevent (null on the cpu device); throws DisposedError once closed. */
  get handle(): Deno.PointerValue {
    if (this.#closed) throw new DisposedError(this.toString(), "was used after close()");
    return this.#handle;
  }

  /** Whether {@linkcode Event.close} has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Records the event at the current end of `stream` (legacy default stream when omitted). */
  record(stream?: Stream): void {
    const handle = this.handle;
    if (stream && stream.device !== this.device) {
      throw new GpumemError(`${this} cannot be recorded on ${stream}: different devices`);
    }
    if (handle === null) {
      this.#recordedAt = performance.now();
      return;
    }
    this.device.activate();
    check(cudaDriver().symbols.cuEventRecord(handle, stream?.handle ?? null), "cuEventRecord");
  }

  /** True when the work before the last record() is done (cuEventQuery), without waiting. */
  query(): boolean {
    const handle = this.handle;
    if (handle === null) return true;
    const { symbols } = cudaDriver();
    const result = symbols.cuEventQuery(handle);
    if (result === CUresult.ERROR_NOT_READY) return false;
    check(result, "cuEventQuery", symbols);
    return true;
  }

  /** Blocks the thread until the work before the last record() is done. */
  synchronize(): void {
    const handle = this.handle;
    if (handle !== null) {
      check(cudaDriver().symbols.cuEventSynchronize(handle), "cuEventSynchronize");
    }
  }

  /** Resolves when the work before the last record() is done, without blocking the event loop. */
  async synchronizeAsync(): Promise<void> {
    const handle = this.handle;
    if (handle === null) return;
    const { symbols } = cudaDriver();
    const result = await symbols.cuEventSynchronizeAsync(handle);
    if (result !== CUresult.SUCCESS) throw cudaErrorOf(symbols, "cuEventSynchronize", result);
  }

  /** Milliseconds between `start`'s record and this event's (both must have completed). */
  elapsedSince(start: Event): number {
    if (!this.timing || !start.timing) {
      throw new GpumemError("elapsedSince needs two events created with timing: true");
    }
    const handle = this.handle;
    const startHandle = start.handle;
    if (handle === null || startHandle === null) {
      if (start.device !== this.device) throw new GpumemError("events on different devices");
      return this.#recordedAt - start.#recordedAt;
    }
    check(
      cudaDriver().symbols.cuEventElapsedTime(floatOut, startHandle, handle),
      "cuEventElapsedTime",
    );
    return floatOut[0];
  }

  /** Destroys the event (cuEventDestroy). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#handle === null) return;
    const handle = this.#handle;
    this.#handle = null;
    if (this.device.kind === "cuda") this.device.releaseUser();
    check(cudaDriver().symbols.cuEventDestroy_v2(handle), "cuEventDestroy_v2");
  }

  /** Same as {@linkcode Event.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Event(cuda:0)`. */
  toString(): string {
    return `Event(${this.device.id})`;
  }
}
