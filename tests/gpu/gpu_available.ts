/**
 * Whether tests/gpu can run here. Without a usable CUDA device each GPU test is registered as
 * ignored, the reason in its name, so a run without a GPU never counts them as passed.
 */

import { cudaAvailability, Device, kernelLibrary } from "../../mod.ts";

const cuda = cudaAvailability();

/** Why the GPU tests cannot run here, or undefined when they can. */
export const gpuIgnoreReason: string | undefined = cuda.usable
  ? undefined
  : `no usable CUDA device: ${cuda.reason}`;

/** Why the CUDA kernel tests cannot run here, or undefined when they can. */
export const cudaKernelIgnoreReason: string | undefined = gpuIgnoreReason ?? (() => {
  try {
    kernelLibrary("cuda");
    // The comparisons run the CPU build beside it: opened here, outside any test, since the
    // resource sanitizer (make test) fails a test that opens a library and keeps it.
    kernelLibrary("cpu");
    return undefined;
  } catch (error) {
    return `the CUDA kernel library is not built (${(error as Error).message.split("\n")[0]})`;
  }
})();

if (gpuIgnoreReason) console.error(`tests/gpu ignored: ${gpuIgnoreReason}`);

/** The reason as test names carry it: its first clause (the full one is printed once above). */
export function shortReason(reason: string): string {
  return reason.split(";")[0];
}

/** cuda:0; only call inside a test that is not ignored. */
export function gpu(): Device {
  return Device.get(0);
}

/** Registers a GPU test, ignored (with the reason in its name) where no GPU is usable. */
export function gpuTest(name: string, fn: () => void | Promise<void>): void {
  Deno.test({
    name: gpuIgnoreReason
      ? `gpu: ${name} (ignored: ${shortReason(gpuIgnoreReason)})`
      : `gpu: ${name}`,
    ignore: gpuIgnoreReason !== undefined,
    fn,
  });
}
