/**
 * Streams: ordered queues of device work.
 *
 * @module
 */

import { CU_STREAM_NON_BLOCKING } from "../../ffi/cuda.ts";
import type { MemoryDevice } from "../device/types.ts";
import { awaitDriverCall, DeviceHandle, doneOrNotReady } from "./device_handle.ts";
import { check, cudaDriver } from "./driver.ts";
import { Event } from "./event.ts";
import { InvalidArgumentError } from "../errors.ts";

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
export class Stream extends DeviceHandle {
  /** Creates a stream on `device` (cuStreamCreate with CU_STREAM_NON_BLOCKING). */
  constructor(device: MemoryDevice) {
    super(device, (out) => {
      check(cudaDriver().symbols.cuStreamCreate(out, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    });
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
    await awaitDriverCall(
      cudaDriver().symbols.cuStreamSynchronizeAsync(handle),
      "cuStreamSynchronize",
    );
  }

  /** True when all work queued so far is done (cuStreamQuery), without waiting. */
  query(): boolean {
    const handle = this.handle;
    return handle === null ||
      doneOrNotReady(cudaDriver().symbols.cuStreamQuery(handle), "cuStreamQuery");
  }

  /** Makes work queued on this stream from now on wait for `event` (cuStreamWaitEvent). */
  waitEvent(event: Event): void {
    const handle = this.handle;
    const eventHandle = event.handle;
    if (handle === null || eventHandle === null) return;
    check(cudaDriver().symbols.cuStreamWaitEvent(handle, eventHandle, 0), "cuStreamWaitEvent");
  }

  /** Destroys the stream; work already queued still completes (cuStreamDestroy). */
  protected destroy(handle: Deno.PointerObject): void {
    check(cudaDriver().symbols.cuStreamDestroy_v2(handle), "cuStreamDestroy_v2");
  }
}

/** `stream`, if it is an open Stream on `device`; InvalidArgumentError naming `argument` otherwise. */
export function checkOpenStream(stream: unknown, device: MemoryDevice, argument: string): Stream {
  if (!(stream instanceof Stream) || stream.device !== device || stream.closed) {
    throw new InvalidArgumentError(argument, `an open Stream on ${device.id}`, stream);
  }
  return stream;
}

/**
 * Whether all work queued so far on `stream` is done; null means the legacy default stream of
 * `device` (cuStreamQuery on the null handle). Always true on the cpu device.
 */
export function streamIdle(stream: Stream | null, device: MemoryDevice): boolean {
  if (stream !== null) return stream.query();
  if (device.kind === "cpu") return true;
  device.activate();
  return doneOrNotReady(cudaDriver().symbols.cuStreamQuery(null), "cuStreamQuery");
}

/**
 * Makes work queued on `waiter` from now on run after all work queued so far on `owner` (null:
 * the legacy default stream of `device`), without blocking the host: an event recorded on
 * `owner`, waited on by `waiter` (cuStreamWaitEvent), then destroyed (the driver keeps it until
 * the wait is done). A no-op on the cpu device.
 */
export function streamWaitFor(
  waiter: Stream | null,
  owner: Stream | null,
  device: MemoryDevice,
): void {
  if (device.kind === "cpu") return;
  using event = new Event(device, { timing: false });
  event.record(owner ?? undefined);
  streamWaitEvent(waiter, event, device);
}

/**
 * Makes work queued on `waiter` (null: the legacy default stream of `device`) from now on run
 * after the work `event` was last recorded after. A no-op on the cpu device.
 */
export function streamWaitEvent(waiter: Stream | null, event: Event, device: MemoryDevice): void {
  if (device.kind === "cpu") return;
  if (waiter !== null) waiter.waitEvent(event);
  else {
    device.activate();
    check(cudaDriver().symbols.cuStreamWaitEvent(null, event.handle, 0), "cuStreamWaitEvent");
  }
}

/**
 * Blocks until all work queued so far on `stream` (null: the legacy default stream) is done. A
 * closed stream's queued work still runs (cuStreamDestroy does not wait), so for one of those the
 * whole device is waited on.
 */
export function streamSynchronize(stream: Stream | null, device: MemoryDevice): void {
  if (stream?.closed) return device.synchronize();
  if (stream !== null) return stream.synchronize();
  if (device.kind === "cpu") return;
  device.activate();
  check(cudaDriver().symbols.cuStreamSynchronize(null), "cuStreamSynchronize");
}

/**
 * Resolves when the work queued on `stream` so far is done, without blocking the event loop and
 * whatever is queued after: an event recorded now, waited for on a worker thread.
 */
export async function streamDone(stream: Stream): Promise<void> {
  using event = new Event(stream.device, { timing: false });
  event.record(stream);
  await event.synchronizeAsync();
}
