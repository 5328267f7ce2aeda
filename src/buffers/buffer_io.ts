/**
 * A DeviceBuffer's bytes to and from host arrays, and fills: each checks its range before the
 * copy is queued on a stream handle (undefined: done on return), and tells a pinned owner of the
 * host array which stream uses it, so the pinned pool does not reuse it under the DMA.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import {
  bytesOf,
  checkByteCount,
  checkByteValue,
  checkHostArray,
  checkRange,
  checkStableHostArray,
  type HostArray,
} from "../validate.ts";
import type { DeviceBuffer } from "./device_buffer.ts";
import { pinnedOwnerOf } from "./pinned_owner.ts";

/** Copies `data` into `buffer` at byte `offset`, on `stream` (its handle `handle`) or at once. */
export function copyHostIntoBuffer(
  buffer: DeviceBuffer,
  data: HostArray,
  offset: number,
  stream?: Stream,
  handle?: Deno.PointerValue,
): void {
  // Queued work reads the array later: it must not be a view of resizable memory.
  const view = stream === undefined ? checkHostArray(data) : checkStableHostArray(data);
  const bytes = bytesOf(view);
  checkRange(offset, bytes.byteLength, buffer.byteLength);
  buffer.device.ops.hostToDevice(buffer.ptr + BigInt(offset), bytes, handle);
  if (stream !== undefined) pinnedOwnerOf(view)?.recordStream(stream);
}

/** Fills `target` from byte `offset` of `buffer`, on `stream` (its handle `handle`) or at once. */
export function copyBufferToHost<T extends HostArray>(
  buffer: DeviceBuffer,
  target: T,
  offset: number,
  stream?: Stream,
  handle?: Deno.PointerValue,
): T {
  const view = stream === undefined
    ? checkHostArray(target, "target")
    : checkStableHostArray(target, "target");
  const bytes = bytesOf(view);
  checkRange(offset, bytes.byteLength, buffer.byteLength);
  buffer.device.ops.deviceToHost(bytes, buffer.ptr + BigInt(offset), handle);
  if (stream !== undefined) pinnedOwnerOf(target)?.recordStream(stream);
  return target;
}

/** Sets `length` bytes of `buffer` from `offset` (default: to its end) to `value` (0..255). */
export function fillBuffer(
  buffer: DeviceBuffer,
  value: number,
  offset: number,
  length: number | undefined,
  handle?: Deno.PointerValue,
): void {
  checkByteValue(value);
  const count = length ?? buffer.byteLength - checkByteCount(offset, "offset");
  checkRange(offset, count, buffer.byteLength);
  buffer.device.ops.fill(buffer.ptr + BigInt(offset), value, count, handle);
}
