/**
 * Large host-to-host copies spread over worker threads: one core copies ~10 GB/s, below what the
 * PCIe link moves, so staging through pinned buffers pays only when several cores copy at once.
 *
 * @module
 */

import { libcIfAvailable } from "../host/c_library.ts";

/** Below this a copy stays on the calling thread: a worker hop costs more than it saves. */
const PARALLEL_MIN_BYTES = 1 << 20;
/** No worker copies less than this. */
const PIECE_MIN_BYTES = 256 << 10;

/**
 * Copies `source` into `target` (the same byteLength), on up to `threads` worker threads
 * (libc memcpy, nonblocking FFI); resolves when every piece is done. Small copies, or a process
 * without FFI, copy on the calling thread. The caller keeps both arrays alive until it resolves.
 */
export async function copyHost(
  target: Uint8Array,
  source: Uint8Array,
  threads: number,
): Promise<void> {
  const bytes = source.byteLength;
  const libc = threads > 1 && bytes >= PARALLEL_MIN_BYTES ? libcIfAvailable() : null;
  if (libc === null) {
    target.set(source);
    return;
  }
  const pieces = Math.max(1, Math.min(threads, Math.floor(bytes / PIECE_MIN_BYTES)));
  // Pieces start on 4 KiB boundaries so no two threads write one page.
  const step = Math.ceil(bytes / pieces / 4096) * 4096;
  const copies: Promise<unknown>[] = [];
  for (let start = 0; start < bytes; start += step) {
    const length = Math.min(step, bytes - start);
    copies.push(libc.symbols.memcpyAsync(
      Deno.UnsafePointer.of(target.subarray(start, start + length)),
      Deno.UnsafePointer.of(source.subarray(start, start + length)),
      BigInt(length),
    ));
  }
  await Promise.all(copies);
}
