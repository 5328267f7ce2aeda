/**
 * What always-on label counting costs on the pool's hot path: the cached round trip through
 * DeviceBuffer (allocate a size the cache holds, free it), tracker off and on. Batches of the two
 * alternate, so a host whose speed drifts during the run (the lent GPU hosts do) moves both
 * figures alike; each figure is the median of its batches.
 *
 *   deno run --allow-ffi --allow-env --allow-sys bench/tracker_cost.ts
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
import { formatTable, median } from "../src/cli/table.ts";

const ROUND_TRIPS = 200_000;
const BATCHES = 15;

const device = cudaAvailability().usable ? Device.get(0) : cpuDevice;
const pool = new MemoryPool(defaultUpstream(device));
const options = { resource: pool, label: "bench" };
const tracker = new MemoryTracker();

/** ns per round trip over one batch, with `active` installed (as a program does: once). */
function batch(active: MemoryTracker | null, bytes: number): number {
  const previous = setActiveTracker(active);
  const start = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) DeviceBuffer.allocate(bytes, options).free();
  const ns = (performance.now() - start) * 1e6 / ROUND_TRIPS;
  setActiveTracker(previous);
  return ns;
}

const rows: string[][] = [];
for (const bytes of [256, 1 << 20, 64 << 20]) {
  batch(null, bytes); // first pass: V8 optimises the path
  batch(tracker, bytes);
  const off: number[] = [];
  const on: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    off.push(batch(null, bytes));
    on.push(batch(tracker, bytes));
  }
  const [a, b] = [median(off), median(on)];
  rows.push([formatBytes(bytes), a.toFixed(1), b.toFixed(1), `${((b / a - 1) * 100).toFixed(1)}%`]);
}
pool.freeCache();
tracker.assertNoLeaks();
console.log(
  `Tracker cost on the cached round trip, ns (median of ${BATCHES} alternating batches of ${ROUND_TRIPS}), on ${
    device.kind === "cuda" ? (device as Device).name : "the cpu device"
  }`,
);
console.log(formatTable(["size", "tracker off", "tracker on", "cost"], rows));
