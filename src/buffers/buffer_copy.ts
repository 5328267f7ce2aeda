/**
 * Copies between device buffers: within one device (refusing overlapping ranges of one
 * allocation), between two CUDA devices (a peer copy), never across device kinds.
 *
 * @module
 */

import { copyPeer } from "../cuda/byte_ops.ts";
import type { Device } from "../cuda/device.ts";
import { InvalidArgumentError } from "../errors.ts";
import { checkRange } from "../validate.ts";
import type { DeviceBuffer } from "./device_buffer.ts";

/**
 * Copies all of `source` into `target` at byte `offset`, queued on the stream `handle` (undefined:
 * done on return); `source` is a DeviceBuffer (the caller checks). The range and the devices
 * are checked before anything is queued.
 */
export function copyBetweenBuffers(
  target: DeviceBuffer,
  source: DeviceBuffer,
  offset: number,
  handle: Deno.PointerValue | undefined,
): void {
  checkRange(offset, source.byteLength, target.byteLength);
  const device = target.device;
  if (source.device !== device && source.device.kind === "cuda" && device.kind === "cuda") {
    copyPeer(
      device as Device,
      target.ptr + BigInt(offset),
      source.device as Device,
      source.ptr,
      source.byteLength,
      handle,
    );
    return;
  }
  if (source.device.kind !== device.kind) {
    throw new InvalidArgumentError(
      "source",
      `a buffer on a ${device.kind} device (use copyToHost/copyFromHost across kinds)`,
      source.toString(),
    );
  }
  const from = source.ptr;
  const to = target.ptr + BigInt(offset);
  const length = BigInt(source.byteLength);
  const sameAllocation = (source.owner ?? source) === (target.owner ?? target);
  if (sameAllocation && from < to + length && to < from + length) {
    throw new InvalidArgumentError(
      "source",
      "a range that does not overlap the destination",
      source.toString(),
    );
  }
  device.ops.deviceToDevice(to, from, source.byteLength, handle);
}
