/** The kernel contracts on the cpu build of csrc/. */

import assert from "node:assert/strict";
import { cpuDevice, GpumemError, kernelLibrary } from "../mod.ts";
import { callKernel } from "../src/kernels/native_call.ts";
import { registerKernelContracts } from "./contracts/kernel_contracts.ts";
import { registerParticleContracts } from "./contracts/particle_contracts.ts";

// Opened once for the process, outside any test: the resource sanitizer checks what tests open.
kernelLibrary("cpu");
registerKernelContracts("cpu kernels", () => cpuDevice);
registerParticleContracts("cpu particles", () => cpuDevice);

Deno.test("cpu kernels: a call that fails on a worker thread still says why", async () => {
  // The cpu device's entry points run on Deno's worker threads (nonblocking calls): the library
  // must keep the message where the calling thread can read it.
  const error = await callKernel(
    cpuDevice,
    "gm_bvh_build_tree",
    0,
    0n,
    0n,
    0,
    0n,
    0n,
    new Float64Array(3),
    4,
    0n,
    0n,
    0n,
    0n,
    0n,
    null,
  ).then(() => null, (e: unknown) => e);
  assert.ok(error instanceof GpumemError);
  assert.match(error.message, /gm_bvh_build_tree: empty mesh or null address/);
});
