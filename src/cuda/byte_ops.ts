/**
 * Byte copies and fills on a CUDA device, through the driver's cuMemcpy and cuMemset calls.
 *
 * @module
 */

import type { ByteOps } from "../device/types.ts";
import type { Device } from "./device.ts";
import { check, cudaDriver } from "./driver.ts";

/** {@linkcode ByteOps} over cuMemcpy*_v2 and cuMemsetD8 (async forms when a stream is given). */
export class CudaByteOps implements ByteOps {
  readonly #device: Device;

  /** Binds the operations to `device`, whose context each call makes current. */
  constructor(device: Device) {
    this.#device = device;
  }

  /** cuMemcpyHtoD_v2, or cuMemcpyHtoDAsync_v2 on `stream`. */
  hostToDevice(dst: bigint, src: Uint8Array, stream?: Deno.PointerValue): void {
    this.#device.activate();
    const s = cudaDriver().symbols;
    const bytes = BigInt(src.byteLength);
    if (stream === undefined) check(s.cuMemcpyHtoD_v2(dst, src, bytes), "cuMemcpyHtoD_v2");
    else check(s.cuMemcpyHtoDAsync_v2(dst, src, bytes, stream), "cuMemcpyHtoDAsync_v2");
  }

  /** cuMemcpyDtoH_v2, or cuMemcpyDtoHAsync_v2 on `stream`. */
  deviceToHost(dst: Uint8Array, src: bigint, stream?: Deno.PointerValue): void {
    this.#device.activate();
    const s = cudaDriver().symbols;
    const bytes = BigInt(dst.byteLength);
    if (stream === undefined) check(s.cuMemcpyDtoH_v2(dst, src, bytes), "cuMemcpyDtoH_v2");
    else check(s.cuMemcpyDtoHAsync_v2(dst, src, bytes, stream), "cuMemcpyDtoHAsync_v2");
  }

  /** cuMemcpyDtoD_v2, or cuMemcpyDtoDAsync_v2 on `stream`. */
  deviceToDevice(dst: bigint, src: bigint, bytes: number, stream?: Deno.PointerValue): void {
    this.#device.activate();
    const s = cudaDriver().symbols;
    const n = BigInt(bytes);
    if (stream === undefined) check(s.cuMemcpyDtoD_v2(dst, src, n), "cuMemcpyDtoD_v2");
    else check(s.cuMemcpyDtoDAsync_v2(dst, src, n, stream), "cuMemcpyDtoDAsync_v2");
  }

  /** cuMemsetD8_v2, or cuMemsetD8Async on `stream`. */
  fill(dst: bigint, value: number, bytes: number, stream?: Deno.PointerValue): void {
    this.#device.activate();
    const s = cudaDriver().symbols;
    const n = BigInt(bytes);
    if (stream === undefined) check(s.cuMemsetD8_v2(dst, value, n), "cuMemsetD8_v2");
    else check(s.cuMemsetD8Async(dst, value, n, stream), "cuMemsetD8Async");
  }
}
