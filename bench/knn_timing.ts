/**
 * Distances and nearest neighbours on a device, on the jobs bench_knn.py times its peers on
 * (../shared/peers/mesh_knn): self-kNN k = 20 and features k = 20 on the kit's LiDAR-like tiles
 * (input on the device; host in and out too), dense L2 matrices of 65536 × 65536 at d = 3, 64,
 * 128, 768, and vector kNN (d = 128, 1M corpus, 10k queries, k = 10). One warm-up, then the
 * median of 3 (1 for the largest jobs). Prints a table and writes JSON.
 *
 *   deno run -A bench/knn_timing.ts TILE_DIR [out.json]
 *
 * (Named *_timing, not *_bench: `deno bench bench/` would run it with no tiles.)
 *
 * TILE_DIR holds lidar_<N>.f64 files (bench/knn_data.py). KNN_QUICK=1 shrinks every job;
 * KNN_RECALL=path writes the 1M tile's first 10k neighbour rows there for bench/knn_recall.py.
 */

import {
  defaultDevice,
  DeviceBuffer,
  getMemoryManager,
  knn,
  knnPoints,
  l2Distances,
  pointFeatures,
} from "../mod.ts";
import { Seeded } from "../tests/contracts/meshes.ts";
import { medianMs } from "./median.ts";

const dir = Deno.args[0];
const jsonPath = Deno.args[1];
const quick = Deno.env.get("KNN_QUICK") === "1";
const device = defaultDevice();
const rows: Record<string, unknown>[] = [];

function record(job: string, ms: number, extra: Record<string, unknown> = {}): void {
  const row = { job, ms: Number(ms.toFixed(2)), ...extra };
  rows.push(row);
  console.log(`| ${job} | ${ms.toFixed(2)} ms | ${JSON.stringify(extra)} |`);
}

function onDevice(data: Float32Array | Float64Array, label: string): DeviceBuffer {
  const buffer = DeviceBuffer.allocate(data.byteLength, { device, label });
  buffer.copyFromHost(data);
  return buffer;
}

const tiles = dir === undefined ? [] : [...Deno.readDirSync(dir)].map((e) => e.name)
  .filter((n) => /^lidar_\d+\.f64$/.test(n))
  .sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]));

console.log(`device ${device.id}; tiles ${tiles.join(", ") || "none"}`);
console.log("| job | time | details |\n|---|---|---|");
for (const name of tiles) {
  const points = new Float64Array(Deno.readFileSync(`${dir}/${name}`).buffer);
  const n = points.length / 3;
  const label = `${(n / 1e6).toFixed(n < 1e6 ? 1 : 0)}M`;
  const repeats = n > 5e6 ? 1 : 3;
  {
    using input = onDevice(points, "bench.points");
    let peak = 0;
    const ms = await medianMs(repeats, async () => {
      getMemoryManager().pool(device).resetPeaks();
      const out = await knnPoints(input.typed(Float64Array), 20);
      peak = Math.max(peak, getMemoryManager().pool(device).stats().allocatedBytes.peak);
      out.indices.free();
      out.distances.free();
    });
    record(`self-kNN k=20 ${label}, device in/out`, ms, { points: n, peakAllocatedBytes: peak });
    const f = await medianMs(repeats, async () => {
      const out = await pointFeatures(input.typed(Float64Array), { k: 20 });
      out.buffer.free();
    });
    record(`pointFeatures k=20 ${label}, device in/out`, f, { points: n });
  }
  const host = await medianMs(1, async () => {
    const r = await knnPoints(points, 20);
    const path = Deno.env.get("KNN_RECALL");
    if (path !== undefined && n === 1_000_000) {
      Deno.writeFileSync(path, new Uint8Array(r.indices.buffer, 0, 10_000 * 20 * 4));
    }
  });
  record(`self-kNN k=20 ${label}, host in/out (upload, download)`, host, { points: n });
}

const rng = new Seeded(7);
const gaussian = () =>
  Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
const side = quick ? 8192 : 65536;
for (const dim of [3, 64, 128, 768]) {
  const a = new Float32Array(side * dim).map(gaussian),
    b = new Float32Array(side * dim).map(gaussian);
  using qa = onDevice(a, "bench.l2"), qb = onDevice(b, "bench.l2");
  const ms = await medianMs(3, async () => {
    const out = await l2Distances(qa.typed(Float32Array), qb.typed(Float32Array), { dim });
    out.free();
  });
  record(`L2 ${side}x${side} d=${dim} fp32`, ms, {
    gflopsEq: Number((2 * side * side * dim / ms / 1e6).toFixed(0)),
  });
  for (const precision of dim < 64 ? [] : ["tf32", "bf16", "fp16"] as const) {
    const t = await medianMs(3, async () => {
      const out = await l2Distances(qa.typed(Float32Array), qb.typed(Float32Array), {
        dim,
        precision,
      });
      out.free();
    });
    record(`L2 ${side}x${side} d=${dim} ${precision}`, t, {
      gflopsEq: Number((2 * side * side * dim / t / 1e6).toFixed(0)),
    });
  }
}
{
  const dim = 128, corpusRows = quick ? 100_000 : 1_000_000, queryRows = 10_000;
  const c = new Float32Array(corpusRows * dim).map(gaussian),
    q = new Float32Array(queryRows * dim).map(gaussian);
  using dc = onDevice(c, "bench.knn"), dq = onDevice(q, "bench.knn");
  const ms = await medianMs(3, async () => {
    const out = await knn(dq.typed(Float32Array), dc.typed(Float32Array), 10, { dim });
    out.indices.free();
    out.distances.free();
  });
  record(`knn d=128 ${corpusRows} corpus, ${queryRows} queries, k=10`, ms);
  for (const precision of ["tf32", "bf16"] as const) {
    const t = await medianMs(3, async () => {
      const out = await knn(dq.typed(Float32Array), dc.typed(Float32Array), 10, { dim, precision });
      out.indices.free();
      out.distances.free();
    });
    record(`knn d=128 ${corpusRows} corpus, ${queryRows} queries, k=10, ${precision}`, t);
  }
}
if (jsonPath !== undefined) {
  Deno.writeTextFileSync(jsonPath, JSON.stringify({ device: device.id, rows }, null, 1));
}
