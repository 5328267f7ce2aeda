/**
 * The pool's hot and cold paths as Deno.bench groups, one group per size: cached round trips
 * through DeviceBuffer (the baseline), the same with the tracker on, the block path under it
 * (each timed per batch of 100: divide by 100 for one round trip), and the miss path (the cache
 * trimmed first, so the pool maps or allocates anew each time). A last group times buffers that
 * outlive the task that made them, tracker off and on: those are the ones the tracker counts (and
 * the collection net registers), where a buffer freed in its own task costs the tracker nothing.
 *
 *   deno bench --allow-ffi --allow-env --allow-sys bench/pool_bench.ts
 *
 * On a GPU the pool is the device's default (growing in place over CUDA's VMM where supported);
 * without one it is the cpu device's. bench/pool_compare.ts prints the same paths beside torch
 * and CuPy in one table.
 */

import {
  cpuDevice,
  cudaAvailability,
  Device,
  DeviceBuffer,
  formatBytes,
  MemoryPool,
  MemoryTracker,
  setActiveTracker,
} from "../mod.ts";
import { defaultUpstream } from "../src/memory/default_resources.ts";

const cuda = cudaAvailability();
const device = cuda.usable ? Device.get(0) : cpuDevice;
const pool = new MemoryPool(defaultUpstream(device));
const options = { resource: pool };
const tracker = new MemoryTracker();

/** Round trips per timed iteration: the tracker is then installed once per batch, as it is in a program. */
const BATCH = 100;

for (const bytes of [256, 1 << 20, 64 << 20]) {
  const group = `${formatBytes(bytes)} on ${device.id} (${pool.upstream.name})`;
  Deno.bench({
    name: `cached: ${BATCH} × DeviceBuffer.allocate+free`,
    group,
    baseline: true,
    fn() {
      for (let i = 0; i < BATCH; i++) DeviceBuffer.allocate(bytes, options).free();
    },
  });
  Deno.bench({
    name: `cached: ${BATCH} × DeviceBuffer.allocate+free, tracker on`,
    group,
    fn() {
      const previous = setActiveTracker(tracker);
      for (let i = 0; i < BATCH; i++) DeviceBuffer.allocate(bytes, options).free();
      setActiveTracker(previous);
    },
  });
  Deno.bench({
    name: `cached: ${BATCH} × pool.allocateBlock+deallocateBlock`,
    group,
    fn() {
      for (let i = 0; i < BATCH; i++) pool.deallocateBlock(pool.allocateBlock(bytes));
    },
  });
  Deno.bench({
    name: `miss: trim(0), then DeviceBuffer.allocate+free`,
    group,
    fn(b) {
      pool.trim(0);
      b.start();
      DeviceBuffer.allocate(bytes, options).free();
      b.end();
    },
  });
}

/** Buffers kept past the end of their task: 100 allocated, a microtask later freed. */
async function survivors(active: MemoryTracker | null): Promise<void> {
  const previous = setActiveTracker(active);
  const kept = Array.from({ length: BATCH }, () => DeviceBuffer.allocate(1 << 20, options));
  await Promise.resolve(); // the task ends: the collection net sweeps, the tracker counts
  for (const buffer of kept) buffer.free();
  setActiveTracker(previous);
}

// Both the same function (it installs its tracker itself): timed with different shapes,
// Deno.bench showed a 2-5x gap here that a plain loop did not (~0.5 µs a buffer off and on).
const outliving = `${BATCH} buffers of 1 MiB that outlive their task, on ${device.id}`;
Deno.bench({
  name: "allocate, end of task, free",
  group: outliving,
  baseline: true,
  fn: () => survivors(null),
});
Deno.bench({
  name: "allocate, end of task, free, tracker on",
  group: outliving,
  fn: () => survivors(tracker),
});
