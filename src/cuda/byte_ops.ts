/**
 * Byte copies and fills on a CUDA device, through the driver's cuMemcpy and cuMemset calls.
 *
 * @module
 */

import type { ByteOps } from "../device/types.ts";
import type { Device } from "./device.ts";
import { check, cudaDriver } from "./driver.ts";

/**
 * {@linkcode ByteOps} over cuMemcpy*_v2 and cuMemsetD8 (async forms when a stream is given).
 *
 * Without a stream, every operation is complete on return. The driver's "synchronous" forms do
 * not promise that: device-to-device copies and memsets return at once, and a host-to-device
 * copy from pageable memory returns once the data is staged, before the DMA is done. Work on a
 * non-blocking stream would then race with them, so those three wait for the legacy default
 * stream they were queued on.
 */
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
    if (stream !== undefined) {
      check(s.cuMemcpyHtoDAsync_v2(dst, src, bytes, stream), "cuMemcpyHtoDAsync_v2");
      return;
    }
    check(s.cuMemcpyHtoD_v2(dst, src, bytes), "cuMemcpyHtoD_v2");
    waitForLegacyStream();
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
    if (stream !== undefined) {
      check(s.cuMemcpyDtoDAsync_v2(dst, src, n, stream), "cuMemcpyDtoDAsync_v2");
      return;
    }
    check(s.cuMemcpyDtoD_v2(dst, src, n), "cuMemcpyDtoD_v2");
    waitForLegacyStream();
  }

  /** cuMemsetD8_v2, or cuMemsetD8Async on `stream`. */
  fill(dst: bigint, value: number, bytes: number, stream?: Deno.PointerValue): void {
    this.#device.activate();
    const s = cudaDriver().symbols;
    const n = BigInt(bytes);
    if (stream !== undefined) {
      check(s.cuMemsetD8Async(dst, value, n, stream), "cuMemsetD8Async");
      return;
    }
    check(s.cuMemsetD8_v2(dst, value, n), "cuMemsetD8_v2");
    waitForLegacyStream();
  }
}

/**
 * Copies `bytes` bytes from `src` on device `from` to `dst` on device `to` (cuMemcpyPeer, or
 * cuMemcpyPeerAsync on `stream`, a stream handle of `to`). Direct when peer access is enabled,
 * staged by the driver otherwise. Without a stream the copy is complete on return.
 */
export function copyPeer(
  to: Device,
  dst: bigint,
  from: Device,
  src: bigint,
  bytes: number,
  stream?: Deno.PointerValue,
): void {
  to.activate();
  const s = cudaDriver().symbols;
  const n = BigInt(bytes);
  if (stream !== undefined) {
    check(s.cuMemcpyPeerAsync(dst, to.context, src, from.context, n, stream), "cuMemcpyPeerAsync");
    return;
  }
  check(s.cuMemcpyPeer(dst, to.context, src, from.context, n), "cuMemcpyPeer");
  // Like cuMemcpyDtoD, it may return before the copy is done; both contexts' legacy streams
  // are waited for, so work on either device's streams sees the data.
  waitForLegacyStream();
  from.activate();
  waitForLegacyStream();
}

/** Waits for the legacy default stream (CUstream 0), where the driver's plain forms queue work. */
function waitForLegacyStream(): void {
  check(cudaDriver().symbols.cuStreamSynchronize(null), "cuStreamSynchronize");
}
