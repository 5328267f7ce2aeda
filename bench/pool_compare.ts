/**
 * gpumem's cached allocation round trip beside its peers', one table with the ratios.
 *
 *   python3 bench/peers/alloc_peers.py > peers.json   # on the GPU host (torch, cupy)
 *   deno run --allow-ffi --allow-env --allow-sys --allow-read bench/pool_compare.ts peers.json
 *
 * gpumem is timed the way alloc_peers.py times its peers: one warm-up round trip, then the
 * median of 15 batches of 2000 round trips. Without a GPU it times the pool on host memory and
 * prints the peers' figures (if given) for reference only.
 */

import {
  cudaAvailability,
  CudaMallocResource,
  Device,
  DeviceBuffer,
  formatBytes,
  HostResource,
  MemoryPool,
} from "../mod.ts";
import { formatTable, microsecondsPerCall } from "../src/cli/table.ts";

/** The method of bench/peers/alloc_peers.py: 15 batches of 2000 round trips. */
const BATCHES = 15;
const PER_BATCH = 2000;

const SIZES = [256, 1 << 20, 64 << 20];

const cuda = cudaAvailability();
const upstream = cuda.usable ? new CudaMallocResource(Device.get(0)) : new HostResource();
const pool = new MemoryPool(upstream);
const ours: Record<string, Record<number, number>> = {
  "gpumem DeviceBuffer.allocate+free (pool)": {},
  "gpumem pool.allocateBlock+deallocateBlock": {},
};
for (const bytes of SIZES) {
  ours["gpumem DeviceBuffer.allocate+free (pool)"][bytes] = microsecondsPerCall(
    () => DeviceBuffer.allocate(bytes, { resource: pool }).free(),
    PER_BATCH,
    BATCHES,
  );
  ours["gpumem pool.allocateBlock+deallocateBlock"][bytes] = microsecondsPerCall(
    () => pool.deallocateBlock(pool.allocateBlock(bytes)),
    PER_BATCH,
    BATCHES,
  );
}
const peersPath = Deno.args[0];
const peers: Record<string, Record<string, number>> = peersPath
  ? JSON.parse(await Deno.readTextFile(peersPath))
  : {};
const reference = ours["gpumem DeviceBuffer.allocate+free (pool)"];
const rows = [...Object.entries(ours), ...Object.entries(peers)].map(([name, bySize]) => [
  name,
  ...SIZES.map((bytes) => {
    const us = Number(bySize[bytes]);
    return `${us.toFixed(3)} (${(us / reference[bytes]).toFixed(1)}×)`;
  }),
]);
console.log(
  `Cached allocation round trip, µs (× gpumem DeviceBuffer), on ${
    cuda.usable ? Device.get(0).name : "host memory (no GPU)"
  }`,
);
console.log(formatTable(["allocator", ...SIZES.map(formatBytes)], rows));
console.log(
  JSON.stringify({ device: cuda.usable ? Device.get(0).name : "cpu", gpumem: ours, peers }),
);
