/**
 * gpumem's pool beside its peers, one table with the ratios: the cached round trip (allocate a
 * size the cache holds, free it) through DeviceBuffer, with the tracker on, and through the block
 * path; and the miss path (the cache emptied first, so memory comes from the device each time).
 *
 *   python3 bench/peers/alloc_peers.py > peers.json   # on the GPU host (torch, cupy)
 *   deno run --allow-ffi --allow-env --allow-sys --allow-read bench/pool_compare.ts peers.json
 *
 * gpumem is timed the way alloc_peers.py times its peers, the median of 15 batches (2000 calls a
 * batch for cached paths, 20 for misses), after a first pass that lets V8 optimise the path. Ratios are to gpumem's
 * DeviceBuffer on the same path. Without a GPU the pool runs on the cpu device, and peers'
 * figures (if given) are for reference only.
 */

import {
  cpuDevice,
  cudaAvailability,
  CudaMallocResource,
  Device,
  DeviceBuffer,
  formatBytes,
  MemoryPool,
  MemoryTracker,
  setActiveTracker,
} from "../mod.ts";
import { defaultUpstream } from "../src/memory/default_resources.ts";
import { formatTable, microsecondsPerCall } from "../src/cli/table.ts";

/** The method of bench/peers/alloc_peers.py. */
const BATCHES = 15;
const PER_BATCH = { cached: 2000, miss: 20 };
const SIZES = [256, 1 << 20, 64 << 20];

type Path = keyof typeof PER_BATCH;
type Row = { path: Path; name: string; us: Record<number, number> };

const cuda = cudaAvailability();
const device = cuda.usable ? Device.get(0) : cpuDevice;
const pool = new MemoryPool(defaultUpstream(device));
const mallocPool = cuda.usable ? new MemoryPool(new CudaMallocResource(device as Device)) : null;
const tracker = new MemoryTracker();

/** Runs `body` with the tracker installed, as a program installs it: once. */
function withTracker<T>(body: () => T): T {
  const previous = setActiveTracker(tracker);
  try {
    return body();
  } finally {
    setActiveTracker(previous);
  }
}

/** The figure of a second pass: the first lets V8 optimise the path (Python has no JIT). */
function time(path: Path, body: () => void): number {
  microsecondsPerCall(body, PER_BATCH[path], BATCHES);
  return microsecondsPerCall(body, PER_BATCH[path], BATCHES);
}

function measure(path: Path, name: string, body: (bytes: number) => void): Row {
  const us: Record<number, number> = {};
  for (const bytes of SIZES) us[bytes] = time(path, () => body(bytes));
  return { path, name, us };
}

const ours: Row[] = [
  measure("cached", `gpumem DeviceBuffer (pool over ${pool.upstream.name})`, (bytes) => {
    DeviceBuffer.allocate(bytes, { resource: pool }).free();
  }),
  withTracker(() =>
    measure("cached", "gpumem DeviceBuffer, tracker on", (bytes) => {
      DeviceBuffer.allocate(bytes, { resource: pool }).free();
    })
  ),
  measure("cached", "gpumem pool.allocateBlock+deallocateBlock", (bytes) => {
    pool.deallocateBlock(pool.allocateBlock(bytes));
  }),
  measure("miss", `gpumem trim(0)+DeviceBuffer (pool over ${pool.upstream.name})`, (bytes) => {
    pool.trim(0);
    DeviceBuffer.allocate(bytes, { resource: pool }).free();
  }),
];
if (mallocPool !== null) {
  ours.push(measure("miss", `gpumem trim(0)+DeviceBuffer (pool over cuMemAlloc)`, (bytes) => {
    mallocPool.trim(0);
    DeviceBuffer.allocate(bytes, { resource: mallocPool }).free();
  }));
}
pool.freeCache();
mallocPool?.freeCache();

const peersPath = Deno.args[0];
const peers: Record<string, Record<string, number>> = peersPath
  ? JSON.parse(await Deno.readTextFile(peersPath))
  : {};
const peerRows: Row[] = Object.entries(peers).map(([name, us]) => ({
  path: name.includes("miss") ? "miss" : "cached",
  name,
  us: us as Record<number, number>,
}));
const reference = { cached: ours[0].us, miss: ours[3].us };
const rows = [...ours, ...peerRows].sort((
  a,
  b,
) => (a.path === b.path ? 0 : a.path === "cached" ? -1 : 1))
  .map(({ path, name, us }) => [
    path,
    name,
    ...SIZES.map((bytes) => {
      const value = Number(us[bytes]);
      return `${value.toFixed(3)} (${(value / reference[path][bytes]).toFixed(2)}×)`;
    }),
  ]);
console.log(
  `Allocation round trip, µs (× gpumem DeviceBuffer on the same path), on ${
    cuda.usable ? (device as Device).name : "the cpu device (no GPU)"
  }`,
);
console.log(formatTable(["path", "allocator", ...SIZES.map(formatBytes)], rows));
console.log(JSON.stringify({ device: device.id, gpumem: ours, peers }));
