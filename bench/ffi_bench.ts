/**
 * The driver's cost from Deno, raw symbol calls beside gpumem's wrappers, in Deno.bench groups
 * (the raw call is each group's baseline, so the summary gives the wrapper's overhead as a ratio).
 *
 *   make bench            # or: deno bench --allow-ffi --allow-env --allow-sys bench/ffi_bench.ts
 *   deno bench ... --json # machine-readable
 *
 * Without a usable CUDA device the GPU groups are ignored and only the host resource runs.
 */

import {
  CudaAsyncResource,
  cudaAvailability,
  CudaMallocResource,
  Device,
  DeviceBuffer,
  formatBytes,
  HostResource,
  Stream,
} from "../mod.ts";
import { cudaDriver } from "../src/cuda/driver.ts";
import { check } from "../src/cuda/driver.ts";

const cuda = cudaAvailability();
const ignore = !cuda.usable;
const sizes = [256, 1 << 20, 64 << 20];
const out = new BigUint64Array(1);

// Set-up outside the measured functions: the device, a stream, and the two resources.
const device = cuda.usable ? Device.get(0) : undefined;
const stream = device ? new Stream(device) : undefined;
const malloc = device ? new CudaMallocResource(device) : undefined;
const pooled = device?.capabilities.memoryPools ? new CudaAsyncResource(device) : undefined;
const symbols = cuda.usable ? cudaDriver().symbols : undefined;

// 100 calls an iteration, so the harness's own per-iteration cost does not swamp a 25 ns call.
Deno.bench({
  name: "cuCtxGetCurrent ×100 (raw symbol)",
  group: "bare FFI call",
  baseline: true,
  ignore,
  fn: () => {
    for (let i = 0; i < 100; i++) symbols!.cuCtxGetCurrent(out);
  },
});

Deno.bench({
  name: "cuCtxGetCurrent ×100 (gpumem check)",
  group: "bare FFI call",
  ignore,
  fn: () => {
    for (let i = 0; i < 100; i++) check(symbols!.cuCtxGetCurrent(out), "cuCtxGetCurrent");
  },
});

// cuMemAlloc takes ~60-100 µs and varies with the driver's state: fixed counts, with warm-up,
// so each variant gets the same treatment.
const slow = { n: 2000, warmup: 200 };

for (const bytes of sizes) {
  const size = BigInt(bytes);
  const group = `cuMemAlloc+cuMemFree ${formatBytes(bytes)}`;
  Deno.bench({
    name: `raw symbols ${formatBytes(bytes)}`,
    group,
    baseline: true,
    ignore,
    ...slow,
    fn: () => {
      symbols!.cuMemAlloc_v2(out, size);
      symbols!.cuMemFree_v2(out[0]);
    },
  });
  Deno.bench({
    name: `CudaMallocResource ${formatBytes(bytes)}`,
    group,
    ignore,
    ...slow,
    fn: () => malloc!.deallocate(malloc!.allocate(bytes), bytes),
  });
  Deno.bench({
    name: `DeviceBuffer.allocate+free ${formatBytes(bytes)}`,
    group,
    ignore,
    ...slow,
    fn: () => DeviceBuffer.allocate(bytes, { resource: malloc }).free(),
  });

  const asyncGroup = `cuMemAllocAsync+cuMemFreeAsync ${formatBytes(bytes)}`;
  const handle = stream?.handle ?? null;
  Deno.bench({
    name: `raw symbols async ${formatBytes(bytes)}`,
    group: asyncGroup,
    baseline: true,
    ignore: ignore || !pooled,
    fn: () => {
      symbols!.cuMemAllocAsync!(out, size, handle);
      symbols!.cuMemFreeAsync!(out[0], handle);
    },
  });
  Deno.bench({
    name: `CudaAsyncResource ${formatBytes(bytes)}`,
    group: asyncGroup,
    ignore: ignore || !pooled,
    fn: () => pooled!.deallocate(pooled!.allocate(bytes, stream), bytes, stream),
  });
  Deno.bench({
    name: `DeviceBuffer.allocate+free async ${formatBytes(bytes)}`,
    group: asyncGroup,
    ignore: ignore || !pooled,
    fn: () => DeviceBuffer.allocate(bytes, { resource: pooled, stream }).free(),
  });
}

// The cpu device's upstream, so the file measures something on every machine.
const host = new HostResource();
for (const bytes of [256, 1 << 20]) {
  Deno.bench({
    name: `HostResource ${formatBytes(bytes)}`,
    group: "host memory (cpu device)",
    fn: () => host.deallocate(host.allocate(bytes), bytes),
  });
}
