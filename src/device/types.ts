/**
 * What buffers, streams and resources need from a device, CUDA or cpu alike.
 *
 * @module
 */

import type { Device, MemInfo } from "../cuda/device.ts";
import type { CpuDevice } from "./cpu_device.ts";

/** Any device gpumem manages memory on: a CUDA {@linkcode Device} or the {@linkcode CpuDevice}. */
export type MemoryDevice = Device | CpuDevice;

export type { MemInfo };

/**
 * Byte copies and fills at raw addresses of one device. `stream` is a stream handle to enqueue on
 * (the call returns before the work is done), or `undefined` for a call that completes the work
 * before it returns. Callers validate every argument first; these only translate to the driver.
 */
export interface ByteOps {
  /** Copies `src` to device address `dst`. */
  hostToDevice(dst: bigint, src: Uint8Array, stream?: Deno.PointerValue): void;
  /** Copies `dst.byteLength` bytes from device address `src` into `dst`. */
  deviceToHost(dst: Uint8Array, src: bigint, stream?: Deno.PointerValue): void;
  /** Copies `bytes` bytes between device addresses (ranges must not overlap). */
  deviceToDevice(dst: bigint, src: bigint, bytes: number, stream?: Deno.PointerValue): void;
  /** Sets `bytes` bytes at `dst` to `value`. */
  fill(dst: bigint, value: number, bytes: number, stream?: Deno.PointerValue): void;
}
