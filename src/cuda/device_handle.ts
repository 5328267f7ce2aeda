/**
 * What streams and events share: a driver handle owned by one object, counted as a user of its
 * device while alive, destroyed once on close, and unusable after (DisposedError). On the cpu
 * device there is no handle (null) and work is already done when it is asked about.
 *
 * @module
 */

import { CUresult } from "../../ffi/cuda.ts";
import type { MemoryDevice } from "../device/types.ts";
import { DisposedError } from "../errors.ts";
import { check, cudaDriver, cudaErrorOf } from "./driver.ts";
import { checkDevice } from "../validate.ts";

/** Base of {@linkcode Stream} and {@linkcode Event}: one owned driver handle on one device. */
export abstract class DeviceHandle {
  /** The device the handle belongs to. */
  readonly device: MemoryDevice;
  #handle: Deno.PointerValue = null;
  #closed = false;

  /** Makes the handle with `create` (CUDA devices only; the cpu device has none). */
  protected constructor(device: MemoryDevice, create: (out: BigUint64Array) => void) {
    this.device = checkDevice(device);
    if (device.kind === "cuda") {
      device.activate();
      const out = new BigUint64Array(1);
      create(out);
      this.#handle = Deno.UnsafePointer.create(out[0]);
      device.retainUser();
    }
  }

  /** The driver handle (null on the cpu device); throws DisposedError once closed. */
  get handle(): Deno.PointerValue {
    if (this.#closed) throw new DisposedError(this.toString(), "was used after close()");
    return this.#handle;
  }

  /** Whether close() has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Destroys the handle. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    if (this.device.kind === "cuda") this.device.releaseUser();
    this.destroy(handle);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Stream(cuda:0)`, `Event(cpu)`. */
  toString(): string {
    return `${this.constructor.name}(${this.device.id})`;
  }

  /** Gives the handle back to the driver. */
  protected abstract destroy(handle: Deno.PointerObject): void;
}

/** A query's result as "done" (true) or "not yet" (false); other results throw CudaError. */
export function doneOrNotReady(result: number, call: string): boolean {
  if (result === CUresult.ERROR_NOT_READY) return false;
  check(result, call);
  return true;
}

/** Awaits a nonblocking driver call and throws CudaError if it failed. */
export async function awaitDriverCall(pending: Promise<number>, call: string): Promise<void> {
  const result = await pending;
  if (result !== CUresult.SUCCESS) throw cudaErrorOf(cudaDriver().symbols, call, result);
}
