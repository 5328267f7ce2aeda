/**
 * Host arrays into device memory for kernels: large ones staged through one shared
 * TransferPipeline per device (host threads and pinned slots, several times the driver's
 * pageable rate; bench/RESULTS.md), small ones and the cpu device's by a plain copy.
 *
 * @module
 */

import type { DeviceBuffer } from "../buffers/device_buffer.ts";
import type { MemoryDevice } from "../device/types.ts";
import { TransferPipeline } from "../transfer/transfer_pipeline.ts";

/**
 * Below this a plain synchronous copy: the pipeline's own direct path (below its directBelow)
 * waits on an event, ~50 µs more than a small mesh's whole upload. Not yet measured on a GPU
 * against the pipeline's 1 MiB threshold.
 */
const STAGE_FROM = 4 << 20;

const pipelines = new Map<MemoryDevice, TransferPipeline>();

/** Copies `host` into `buffer` (as long as it); resolves once the bytes are on the device. */
export async function uploadForKernel(buffer: DeviceBuffer, host: ArrayBufferView): Promise<void> {
  const bytes = new Uint8Array(host.buffer as ArrayBuffer, host.byteOffset, host.byteLength);
  const device = buffer.device;
  if (device.kind === "cpu" || bytes.byteLength < STAGE_FROM) {
    buffer.copyFromHost(bytes);
    return;
  }
  let pipeline = pipelines.get(device);
  if (pipeline === undefined) {
    pipeline = new TransferPipeline({ device });
    pipelines.set(device, pipeline);
  }
  await pipeline.upload(buffer, bytes);
}
