/**
 * Page-locking a user's own typed array (cuMemHostRegister), so the same array moves at pinned
 * speed transfer after transfer without a staging copy.
 *
 * @module
 */

import { CU_MEMHOSTREGISTER_PORTABLE, CUresult } from "../../ffi/cuda.ts";
import type { Device } from "../cuda/device.ts";
import { check, cudaDriver } from "../cuda/driver.ts";
import { defaultDevice } from "../device/select.ts";
import type { MemoryDevice } from "../device/types.ts";
import { formatBytes, InvalidArgumentError } from "../errors.ts";
import { HostBuffer } from "./host_buffer.ts";
import { checkOptions, checkStableHostArray, type HostArray } from "../validate.ts";

/** Options for {@linkcode registerHost}. */
export interface RegisterHostOptions {
  /** The device whose context registers (the registration counts for all). Default: default device. */
  device?: MemoryDevice;
}

/** Live registrations: keeps their arrays alive (their memory must not go while locked). */
const live = new Set<HostRegistration>();

/**
 * A registered (page-locked) typed array. While registered, copies between it and device memory
 * run at pinned speed and may be asynchronous; its ArrayBuffer is kept alive until unregister().
 * Do not detach it (transfer(), postMessage) while registered. On the cpu device a registration
 * locks nothing but keeps the same rules, so code and tests run unchanged.
 *
 * @example
 * ```ts
 * import { cpuDevice, registerHost } from "@gpumem/gpumem";
 * const data = new Float32Array(1 << 20);
 * using registration = registerHost(data, { device: cpuDevice });
 * console.log(registration.byteLength); // 4194304
 * ```
 */
export class HostRegistration {
  /** The registered array. */
  readonly array: HostArray;
  /** The device whose context registered it. */
  readonly device: MemoryDevice;
  /** First byte's address. */
  readonly address: bigint;
  /** Bytes registered (the array's byteLength). */
  readonly byteLength: number;
  #registered = true;

  /** Use {@linkcode registerHost}. */
  constructor(array: HostArray, device: MemoryDevice, address: bigint) {
    this.array = array;
    this.device = device;
    this.address = address;
    this.byteLength = array.byteLength;
  }

  /** Whether the array is still registered. */
  get registered(): boolean {
    return this.#registered;
  }

  /** Whether `[address, address + bytes)` lies inside this registration. */
  covers(address: bigint, bytes: number): boolean {
    return this.#registered && address >= this.address &&
      address + BigInt(bytes) <= this.address + BigInt(this.byteLength);
  }

  /**
   * Unlocks the pages (cuMemHostUnregister) after waiting for the device's queued work, which may
   * still be copying from or into them. Idempotent.
   */
  unregister(): void {
    if (!this.#registered) return;
    if (this.device.kind === "cuda") {
      const device = this.device as Device;
      device.synchronize();
      device.activate();
      check(cudaDriver().symbols.cuMemHostUnregister(this.address), "cuMemHostUnregister");
      device.releaseUser();
    }
    this.#registered = false;
    live.delete(this);
  }

  /** Same as {@linkcode HostRegistration.unregister}. */
  [Symbol.dispose](): void {
    this.unregister();
  }

  /** `HostRegistration(cuda:0, Float32Array, 4.00 MiB)`. */
  toString(): string {
    return `HostRegistration(${this.device.id}, ${this.array.constructor.name}, ${
      formatBytes(this.byteLength)
    })`;
  }
}

/**
 * Page-locks `array` (cuMemHostRegister, portable to every context) until the registration is
 * disposed. InvalidArgumentError, before any driver call, for an empty, detached or resizable
 * array, a view of a HostBuffer (pinned already), or one overlapping a live registration; the
 * same error, from the driver's answer, for one sharing a page with a registered range.
 */
export function registerHost(
  array: HostArray,
  options: RegisterHostOptions = {},
): HostRegistration {
  const view = checkStableHostArray(array, "array");
  if (view.byteLength === 0) {
    throw new InvalidArgumentError("array", "a typed array of at least one byte", "empty");
  }
  checkOptions(options);
  if (HostBuffer.of(view) !== undefined) {
    throw new InvalidArgumentError("array", "pageable memory", `a view of ${HostBuffer.of(view)}`);
  }
  const device = options.device ?? defaultDevice();
  const address = Deno.UnsafePointer.value(Deno.UnsafePointer.of(view));
  const overlapping = findOverlapping(address, view.byteLength);
  if (overlapping !== undefined) {
    throw new InvalidArgumentError(
      "array",
      "memory no live registration holds",
      `an array overlapping ${overlapping}`,
    );
  }
  if (device.kind === "cuda") {
    device.activate();
    const result = cudaDriver().symbols.cuMemHostRegister_v2(
      address,
      BigInt(view.byteLength),
      CU_MEMHOSTREGISTER_PORTABLE,
    );
    if (result === CUresult.ERROR_HOST_MEMORY_ALREADY_REGISTERED) {
      // The driver locks whole pages: a neighbour on the same page, or memory registered
      // outside gpumem. Nothing was registered.
      throw new InvalidArgumentError(
        "array",
        "memory on pages no other registration holds (the driver locks whole 4 KiB pages)",
        "an array sharing a page with a registered range",
      );
    }
    check(result, "cuMemHostRegister_v2");
    device.retainUser();
  }
  const registration = new HostRegistration(view, device, address);
  live.add(registration);
  return registration;
}

/** The live registration covering `[address, address + bytes)` wholly, if any. */
export function registrationCovering(address: bigint, bytes: number): HostRegistration | undefined {
  for (const registration of live) if (registration.covers(address, bytes)) return registration;
  return undefined;
}

/** A live registration sharing a byte with `[address, address + bytes)`, if any. */
function findOverlapping(address: bigint, bytes: number): HostRegistration | undefined {
  const end = address + BigInt(bytes);
  for (const registration of live) {
    if (
      address < registration.address + BigInt(registration.byteLength) && registration.address < end
    ) {
      return registration;
    }
  }
  return undefined;
}
