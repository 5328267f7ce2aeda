/**
 * What a MeshBvh query costs beside its kernels: the wall time of closestPoints and rayCast on
 * the bunny for growing query counts (device views in, device buffers out), beside the GPU time
 * between two events recorded on the BVH's stream around the call. Their difference at small
 * counts is the call's fixed cost (allocation, launches, the wait, the status read-back).
 *
 *   deno run -A bench/mesh_latency.ts [path/to/bunny.npz]
 */

import { DeviceBuffer, Event, MeshBvh } from "../mod.ts";
import { readNpz } from "../src/cli/meshes.ts";
import { Seeded } from "../tests/contracts/meshes.ts";

const npz = await readNpz(Deno.args[0] ?? "../shared/peers/mesh_knn/data/bunny.npz");
using bvh = await MeshBvh.build(
  npz.vertices_f64 as Float64Array,
  new Uint32Array((npz.faces as Int32Array).buffer),
);
const lo = [0, 1, 2].map((k) => bvh.bounds[k]), hi = [0, 1, 2].map((k) => bvh.bounds[3 + k]);
const rng = new Seeded(7);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function time(call: () => Promise<Record<string, DeviceBuffer>>, repeats: number) {
  const walls: number[] = [], spans: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    using start = new Event(bvh.device), end = new Event(bvh.device);
    start.record(bvh.stream);
    const t0 = performance.now();
    const out = await call();
    const wall = performance.now() - t0;
    end.record(bvh.stream);
    await end.synchronizeAsync();
    for (const b of Object.values(out)) b.free();
    if (r > 0) walls.push(wall), spans.push(end.elapsedSince(start));
  }
  return { wall: median(walls), gpu: median(spans) };
}

console.log(
  "| queries | closest wall ms | closest GPU span ms | rays wall ms | rays GPU span ms |",
);
console.log("|---|---|---|---|---|");
for (const n of [1, 1024, 32768, 262144, 1_000_000]) {
  const points = new Float32Array(3 * n), dirs = new Float32Array(3 * n);
  for (let i = 0; i < 3 * n; i++) {
    const k = i % 3;
    points[i] = (lo[k] + hi[k]) / 2 + (hi[k] - lo[k]) * 0.6 * (2 * rng.next() - 1);
    dirs[i] = 2 * rng.next() - 1;
  }
  using p = DeviceBuffer.fromHost(points, { device: bvh.device });
  using d = DeviceBuffer.fromHost(dirs, { device: bvh.device });
  const repeats = n >= 262144 ? 9 : 41;
  const c = await time(() => bvh.closestPoints(p.typed(Float32Array)), repeats);
  const r = await time(() => bvh.rayCast(p.typed(Float32Array), d.typed(Float32Array)), repeats);
  const cells = [c.wall, c.gpu, r.wall, r.gpu].map((ms) => ms.toFixed(3));
  console.log(`| ${n} | ${cells.join(" | ")} |`);
}
