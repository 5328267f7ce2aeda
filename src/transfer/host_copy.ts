/**
 * Host-to-host copies on a worker thread: one core copies ~10 GB/s, below what the PCIe link
 * moves, so the staged pipeline keeps several of these running at once, each on its own piece.
 *
 * @module
 */

import { libcIfAvailable } from "../host/c_library.ts";

/** Below this a copy stays on the calling thread: the worker hop costs more than it saves. */
const OFF_THREAD_MIN_BYTES = 64 << 10;

/**
 * Copies `source` into `target` (the same byteLength) with libc's memcpy on a worker thread
 * (nonblocking FFI); resolves when it is done. Small copies, or a process without FFI, copy on
 * the calling thread. The caller keeps both arrays alive until it resolves.
 */
export async function copyHostOffThread(target: Uint8Array, source: Uint8Array): Promise<void> {
  const libc = source.byteLength >= OFF_THREAD_MIN_BYTES ? libcIfAvailable() : null;
  if (libc === null) {
    target.set(source);
    return;
  }
  await libc.symbols.memcpyAsync(
    Deno.UnsafePointer.of(target),
    Deno.UnsafePointer.of(source),
    BigInt(source.byteLength),
  );
}
