/**
 * Calling the kernel library's long entry points without blocking the event loop: on a CUDA
 * device a call only queues work on a stream (it returns at once), so it is made directly; on the
 * cpu device the call does the work, so it runs on a worker thread through its `_async` twin.
 *
 * @module
 */

import type { KernelSymbols } from "../../ffi/kernels.ts";
import type { MemoryDevice } from "../device/types.ts";
import { checkKernelStatus, kernelLibrary } from "./library.ts";

/** The entry points bound both ways (see ffi/kernels.ts). */
export type TwoWayEntry =
  & keyof KernelSymbols
  & {
    [K in keyof KernelSymbols]: `${K & string}_async` extends keyof KernelSymbols ? K : never;
  }[keyof KernelSymbols];

/**
 * Calls `name` for `device` with `args` and throws GpumemError with the library's message when it
 * fails. Resolves once the work is queued (CUDA) or done (cpu).
 */
export async function callKernel<K extends TwoWayEntry>(
  device: MemoryDevice,
  name: K,
  ...args: Parameters<KernelSymbols[K]>
): Promise<void> {
  const library = kernelLibrary(device.kind);
  const symbols = library.symbols as unknown as Record<
    string,
    (...a: unknown[]) => number | Promise<number>
  >;
  const status = device.kind === "cpu"
    ? await symbols[`${name}_async`](...args)
    : symbols[name](...args) as number;
  checkKernelStatus(library, status, name);
}

/** A host array's address, for entry points that take addresses (the cpu build reads them). */
export function hostAddress(array: ArrayBufferView): bigint {
  if (array.byteLength === 0) return 0n;
  return Deno.UnsafePointer.value(Deno.UnsafePointer.of(array as Uint8Array<ArrayBuffer>));
}
