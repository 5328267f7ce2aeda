/**
 * Uploads that overlap compute (TransferPipeline.uploadEach): chunk i + 1 goes up on the
 * pipeline's stream while `process` works on chunk i on the compute stream, through two device
 * buffers that events hand back and forth.
 *
 * @module
 */

import { DeviceBuffer } from "../buffers/device_buffer.ts";
import { Event } from "../cuda/event.ts";
import { type Stream, streamDone } from "../cuda/stream.ts";
import type { UploadEachOptions } from "./transfer_pipeline.ts";

/**
 * Uploads `source` in chunks of `chunk` bytes with `upload` (queued on `stream`), handing each
 * to `options.process` once it is there; resolves once compute has done the last.
 */
export async function uploadEachChunk(
  stream: Stream,
  upload: (buffer: DeviceBuffer, piece: Uint8Array) => Promise<void>,
  source: Uint8Array,
  chunk: number,
  options: UploadEachOptions,
): Promise<void> {
  const { compute, process } = options;
  const total = source.byteLength;
  const chunks = Math.ceil(total / chunk);
  const buffers: DeviceBuffer[] = [];
  const uploaded: Event[] = [];
  const processed: Event[] = [];
  try {
    for (let i = 0; i < Math.min(2, chunks); i++) {
      const buffer = DeviceBuffer.allocate(chunk, {
        device: stream.device,
        label: "transfer.chunk",
      });
      buffers.push(buffer);
      buffer.recordStream(stream);
      buffer.recordStream(compute);
      uploaded.push(new Event(stream.device, { timing: false }));
      processed.push(new Event(stream.device, { timing: false }));
    }
    for (let index = 0; index < chunks; index++) {
      const at = index * chunk;
      const length = Math.min(chunk, total - at);
      const pair = index % 2;
      // The buffer is free once compute has done chunk index - 2.
      if (index >= 2) stream.waitEvent(processed[pair]);
      await upload(buffers[pair], source.subarray(at, at + length));
      uploaded[pair].record(stream);
      compute.waitEvent(uploaded[pair]);
      await process(buffers[pair].view(0, length), index, at);
      processed[pair].record(compute);
    }
  } finally {
    // The last chunk's processing, or after a failure what compute had queued, is done before
    // the Promise settles.
    if (!compute.closed) await streamDone(compute);
    for (const buffer of buffers) buffer.free();
    for (const event of [...uploaded, ...processed]) event.close();
  }
}
