/**
 * The stream kernel work is ordered on when its caller names none: one per device for the
 * process. (A stream per object would do, but the pool keeps address ranges per stream, so
 * thousands of short-lived streams would hold thousands of ranges.)
 *
 * @module
 */

import { Stream } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";

const streams = new Map<MemoryDevice, Stream>();

/** The process's kernel stream of `device`, made on first use. */
export function kernelStream(device: MemoryDevice): Stream {
  let stream = streams.get(device);
  if (stream === undefined || stream.closed) {
    stream = new Stream(device);
    streams.set(device, stream);
  }
  return stream;
}
