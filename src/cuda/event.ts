/**
 * Events: markers in a stream, to wait on, query, order other streams after, and time with.
 *
 * @module
 */

import { CU_EVENT_DEFAULT, CU_EVENT_DISABLE_TIMING } from "../../ffi/cuda.ts";
import { GpumemError } from "../errors.ts";
import type { MemoryDevice } from "../device/types.ts";
import { awaitDriverCall, DeviceHandle, doneOrNotReady } from "./device_handle.ts";
import { check, cudaDriver } from "./driver.ts";
import type { Stream } from "./stream.ts";

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
export class Event extends DeviceHandle {
  /** Whether the event records timing data. */
  readonly timing: boolean;
  #recordedAt = NaN;

  /** Creates an event on `device` (cuEventCreate). */
  constructor(device: MemoryDevice, options: EventOptions = {}) {
    const timing = options.timing ?? true;
    super(device, (out) => {
      const flags = timing ? CU_EVENT_DEFAULT : CU_EVENT_DISABLE_TIMING;
      check(cudaDriver().symbols.cuEventCreate(out, flags), "cuEventCreate");
    });
    this.timing = timing;
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
    return handle === null ||
      doneOrNotReady(cudaDriver().symbols.cuEventQuery(handle), "cuEventQuery");
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
    await awaitDriverCall(
      cudaDriver().symbols.cuEventSynchronizeAsync(handle),
      "cuEventSynchronize",
    );
  }

  /** Milliseconds between `start`'s record and this event's (both must have completed). */
  elapsedSince(start: Event): number {
    if (!this.timing || !start.timing) {
      throw new GpumemError("elapsedSince needs two events created with timing: true");
    }
    if (start.device !== this.device) {
      throw new GpumemError(`${start} and ${this} are on different devices`);
    }
    const handle = this.handle;
    const startHandle = start.handle;
    if (handle === null || startHandle === null) return this.#recordedAt - start.#recordedAt;
    check(
      cudaDriver().symbols.cuEventElapsedTime(floatOut, startHandle, handle),
      "cuEventElapsedTime",
    );
    return floatOut[0];
  }

  /** Destroys the event (cuEventDestroy). */
  protected destroy(handle: Deno.PointerObject): void {
    check(cudaDriver().symbols.cuEventDestroy_v2(handle), "cuEventDestroy_v2");
  }
}
