/** Loading the driver and the kernel library: failures name every path tried. */

import assert from "node:assert/strict";
import { DriverUnavailableError, kernelLibrary, KernelLibraryUnavailableError } from "../mod.ts";
import { CUDA_LIBRARY_ENV, loadCudaDriver } from "../src/cuda/driver.ts";
import { KERNEL_LIBRARY_ENV, loadKernelLibrary } from "../src/kernels/library.ts";
import { expectError } from "./contracts/expect_error.ts";

function withEnv(name: string, value: string, body: () => void): void {
  const previous = Deno.env.get(name);
  Deno.env.set(name, value);
  try {
    body();
  } finally {
    if (previous === undefined) Deno.env.delete(name);
    else Deno.env.set(name, previous);
  }
}

Deno.test("a bad GPUMEM_CUDA_LIBRARY gives DriverUnavailableError naming the path", () => {
  const path = "/nonexistent/gpumem-test/libcuda.so.1";
  withEnv(CUDA_LIBRARY_ENV, path, () => {
    const error = expectError(() => loadCudaDriver(), DriverUnavailableError);
    assert.equal(error.attempts.length, 1, "an override is the only path tried");
    assert.equal(error.attempts[0].path, path);
    assert.equal(error.attempts[0].source, "env");
    assert.match(error.message, /gpumem-test\/libcuda\.so\.1/);
  });
});

// Opened once for the process, outside any test, as gpumem's libraries are meant to stay open.
const cpuLibrary = kernelLibrary("cpu").path;

Deno.test("a library that is not the CUDA driver is refused with the missing symbol", () => {
  // The kernel library loads, but lacks the cu* symbols: the lookup fails and names one.
  withEnv(CUDA_LIBRARY_ENV, cpuLibrary, () => {
    const error = expectError(() => loadCudaDriver(), DriverUnavailableError);
    assert.match(error.message, /undefined symbol: cu\w+/);
  });
});

Deno.test("a bad kernel-library override gives KernelLibraryUnavailableError naming it", () => {
  const path = "/nonexistent/gpumem-test/libgpumem_kernels_cuda.so";
  withEnv(KERNEL_LIBRARY_ENV.cuda, path, () => {
    const error = expectError(() => loadKernelLibrary("cuda"), KernelLibraryUnavailableError);
    assert.equal(error.attempts[0].path, path);
    assert.match(error.message, /make build/);
  });
});

Deno.test("the cpu kernel library reports its backend and ABI", () => {
  const library = kernelLibrary("cpu");
  assert.equal(library.backend, "cpu");
  assert.equal(library.symbols.gm_backend(), 0);
  assert.equal(kernelLibrary("cpu"), library, "loaded once");
});
