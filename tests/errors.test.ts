/** Error types carry what a person needs, and validation catches every malformed argument. */

import assert from "node:assert/strict";
import {
  cpuDevice,
  CudaError,
  deviceByName,
  DriverUnavailableError,
  formatBytes,
  GpumemError,
  InvalidArgumentError,
  OutOfMemoryError,
  TransferError,
} from "../mod.ts";

Deno.test("formatBytes is readable at every scale", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.50 KiB");
  assert.equal(formatBytes(80 * 2 ** 30), "80.00 GiB");
  assert.equal(formatBytes(NaN), "unknown");
});

Deno.test("a transfer error says which way, how much, and whether it was injected", () => {
  const error = new TransferError("to host", 2 ** 20, true, "injected failure 1 (attempt 5)");
  assert.ok(error instanceof GpumemError);
  assert.equal(error.name, "TransferError");
  assert.equal(error.direction, "to host");
  assert.equal(error.bytes, 2 ** 20);
  assert.equal(error.injected, true);
  assert.match(
    error.message,
    /transfer to host failed at a piece of 1\.00 MiB: injected failure 1/,
  );
});

Deno.test("errors share a base class, keep their names and causes", () => {
  const cuda = new CudaError("cuMemAlloc_v2", 2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory");
  assert.ok(cuda instanceof GpumemError);
  assert.equal(cuda.name, "CudaError");
  assert.equal(cuda.message, "cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory");
  const oom = new OutOfMemoryError(
    { requestedBytes: 2 ** 31, device: "cuda:0", freeBytes: 2 ** 30, totalBytes: 80 * 2 ** 30 },
    ["pool: 3 segments"],
    { cause: cuda },
  );
  assert.equal(oom.cause, cuda);
  assert.match(
    oom.message,
    /cuda:0: tried to allocate 2\.00 GiB .* 1\.00 GiB free of 80\.00 GiB\n {2}pool: 3 segments/,
  );
  const driver = new DriverUnavailableError("none loaded; tried:", [
    { path: "/x/libcuda.so", source: "env", error: new Error("no such file") },
  ]);
  assert.match(driver.message, /\/x\/libcuda\.so \(env\): no such file/);
  const invalid = new InvalidArgumentError("bytes", "a non-negative safe integer", -3);
  assert.equal(invalid.argument, "bytes");
  assert.match(invalid.message, /got -3$/);
});

Deno.test("device names parse, and bad ones are InvalidArgumentError", () => {
  assert.equal(deviceByName("cpu"), cpuDevice);
  assert.equal(deviceByName(" CPU "), cpuDevice);
  for (const bad of ["gpu", "cuda:", "cuda:-1", "1.5", ""]) {
    assert.throws(() => deviceByName(bad), InvalidArgumentError, bad);
  }
});
