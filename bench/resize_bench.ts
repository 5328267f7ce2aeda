/**
 * What growing a ResizableBuffer costs, both strategies: grow 1→2 GiB and 16→17 GiB, and append
 * 64 MiB chunks up to 8 GiB; beside the device-to-device copy bandwidth measured in the same run
 * (the ceiling of the copy strategy).
 *
 *   deno run --allow-ffi --allow-env --allow-sys bench/resize_bench.ts
 *
 * On a GPU: "vmm" over CUDA's virtual memory API, "copy" over a pool of cuMemAlloc blocks, timed
 * cold (the pool maps or allocates the new block) and warm (the pool holds it already). Without a
 * GPU the same on the cpu device (host mmap and host memory), at 1/16 of the sizes.
 */

import {
  cpuDevice,
  cudaAvailability,
  CudaMallocResource,
  CudaVirtualMemoryResource,
  Device,
  DeviceBuffer,
  formatBytes,
  HostResource,
  HostVirtualMemoryResource,
  type MemoryDevice,
  MemoryPool,
  ResizableBuffer,
  type ResizeStrategy,
} from "../mod.ts";
import { formatTable, median } from "../src/cli/table.ts";
import { timeGrowth } from "../src/cli/resize_timing.ts";

const GiB = 2 ** 30;
const cuda = cudaAvailability();
const device: MemoryDevice = cuda.usable ? Device.get(0) : cpuDevice;
const scale = cuda.usable ? 1 : 1 / 16;
const pools: Record<ResizeStrategy, MemoryPool> = cuda.usable
  ? {
    vmm: new MemoryPool(new CudaVirtualMemoryResource(device as Device)),
    copy: new MemoryPool(new CudaMallocResource(device as Device)),
  }
  : {
    vmm: new MemoryPool(new HostVirtualMemoryResource()),
    copy: new MemoryPool(new HostResource()),
  };

/** Device-to-device copy bandwidth (bytes read per second, as the copy strategy moves them). */
function copyBandwidth(bytes: number): number {
  using a = DeviceBuffer.allocate(bytes, { resource: pools.copy });
  using b = DeviceBuffer.allocate(bytes, { resource: pools.copy });
  const samples: number[] = [];
  for (let round = 0; round < 6; round++) {
    device.synchronize();
    const start = performance.now();
    b.copyFrom(a);
    device.synchronize();
    if (round > 0) samples.push(performance.now() - start);
  }
  return bytes / (median(samples) / 1e3);
}

const bandwidth = copyBandwidth(Math.round(GiB * scale));
const growthRows: string[][] = [];
for (const [fromGiB, toGiB] of [[1, 2], [16, 17]]) {
  const from = Math.round(fromGiB * GiB * scale);
  const to = Math.round(toGiB * GiB * scale);
  const cases: [ResizeStrategy, boolean][] = [["vmm", false], ["copy", false], ["copy", true]];
  for (const [strategy, warm] of cases) {
    const timing = timeGrowth(pools[strategy], strategy, from, to, { warm });
    const moved = timing.bytesMoved;
    const rate = moved / (timing.ms / 1e3);
    growthRows.push([
      `${strategy}${strategy === "copy" ? (warm ? " (block cached)" : " (new block)") : ""}`,
      `${formatBytes(from)} → ${formatBytes(to)}`,
      timing.ms.toFixed(3),
      timing.msPerGiBAdded.toFixed(3),
      moved === 0 ? "-" : (rate / 1e9).toFixed(0),
      moved === 0 ? "-" : `${(100 * rate / bandwidth).toFixed(0)}%`,
    ]);
  }
}

/** Appends `chunk` until `total` bytes; returns total ms, the mean and the slowest append. */
function appendUpTo(strategy: ResizeStrategy, chunk: DeviceBuffer, total: number): string[] {
  const pool = pools[strategy];
  pool.freeCache();
  const times: number[] = [];
  {
    using buffer = ResizableBuffer.create(0, { pool, strategy, maxBytes: total });
    while (buffer.length + chunk.byteLength <= total) {
      const start = performance.now();
      buffer.append(chunk);
      device.synchronize();
      times.push(performance.now() - start);
    }
  }
  pool.freeCache();
  const sum = times.reduce((a, b) => a + b, 0);
  return [
    strategy,
    `${times.length} × ${formatBytes(chunk.byteLength)}`,
    sum.toFixed(1),
    (sum / times.length).toFixed(3),
    Math.max(...times).toFixed(3),
  ];
}

const appendRows: string[][] = [];
{
  using chunk = DeviceBuffer.allocate(Math.round(64 * 2 ** 20 * scale), { device });
  for (const strategy of ["vmm", "copy"] as const) {
    appendRows.push(appendUpTo(strategy, chunk, Math.round(8 * GiB * scale)));
  }
}

const name = cuda.usable ? (device as Device).name : "cpu device";
console.log(
  `Growing a ResizableBuffer on ${name}; device-to-device copy ${
    (bandwidth / 1e9).toFixed(0)
  } GB/s ` +
    `(bytes read per second)`,
);
console.log(
  formatTable(["strategy", "growth", "ms", "ms/GiB added", "GB/s moved", "of copy"], growthRows),
);
console.log("\nAppending chunks (growth factor 2):");
console.log(formatTable(["strategy", "appends", "total ms", "mean ms", "slowest ms"], appendRows));
console.log(JSON.stringify({ device: name, bandwidth, growthRows, appendRows }));
