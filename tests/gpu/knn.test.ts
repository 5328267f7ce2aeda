/** The distance and nearest-neighbour contracts on the CUDA build of csrc/knn/, and the CPU build's answers beside it. */

import assert from "node:assert/strict";
import {
  cpuDevice,
  getMemoryManager,
  knn,
  knnPoints,
  l2Distances,
  OutOfMemoryError,
  pointFeatures,
} from "../../mod.ts";
import { lidarPatch, registerKnnContracts } from "../contracts/knn_contracts.ts";
import { Seeded } from "../contracts/meshes.ts";
import { contractTest } from "../contracts/register.ts";
import { cudaKernelIgnoreReason, gpu } from "./gpu_available.ts";

registerKnnContracts("gpu knn", gpu, cudaKernelIgnoreReason);

contractTest(
  "gpu knn",
  cudaKernelIgnoreReason,
  "the CPU and CUDA builds give the same neighbours, distances and features",
  async () => {
    const rng = new Seeded();
    const points = lidarPatch(rng, 100_000, 120);
    const [cpu, cuda] = [
      await knnPoints(points, 20, { device: cpuDevice }),
      await knnPoints(points, 20, { device: gpu() }),
    ];
    assert.deepEqual(cuda.indices, cpu.indices, `seed ${rng.seed}`);
    assert.deepEqual(cuda.distances, cpu.distances, `seed ${rng.seed}`);
    const [fc, fg] = [
      await pointFeatures(points, { device: cpuDevice, k: 16 }),
      await pointFeatures(points, { device: gpu(), k: 16 }),
    ];
    for (let i = 0; i < fc.planarity.length; i++) {
      assert.ok(Math.abs(fc.planarity[i] - fg.planarity[i]) < 1e-4, `point ${i}`);
    }
    const v = new Float32Array(3000 * 40).map(() => rng.uniform(-1, 1));
    const [vc, vg] = [
      await knn(v, v, 12, { dim: 40, device: cpuDevice }),
      await knn(v, v, 12, { dim: 40, device: gpu() }),
    ];
    assert.deepEqual(vg.indices, vc.indices);
    assert.deepEqual(vg.distances, vc.distances);
  },
);

contractTest(
  "gpu knn",
  cudaKernelIgnoreReason,
  'fallback "cpu": a query the device cannot hold runs on the cpu device, with the same answer',
  async () => {
    const rng = new Seeded();
    const points = lidarPatch(rng, 50_000, 60);
    const expected = await knnPoints(points, 8, { device: cpuDevice });
    const pool = getMemoryManager().pool(gpu());
    const previous = pool.limit;
    pool.freeCache();
    pool.limit = pool.stats().reservedBytes.current + (64 << 10); // room for almost nothing
    try {
      await assert.rejects(() => knnPoints(points, 8, { device: gpu() }), OutOfMemoryError);
      const got = await knnPoints(points, 8, { device: gpu(), fallback: "cpu" });
      assert.deepEqual(got.indices, expected.indices, `seed ${rng.seed}`);
    } finally {
      pool.limit = previous;
    }
  },
);

contractTest(
  "gpu knn",
  cudaKernelIgnoreReason,
  "fp32 on tensor cores (dim >= 64): near pairs as the CPU build has them, the rest within a few roundings",
  async () => {
    const rng = new Seeded();
    // Sizes off the 128-row tiles; dims that take the cp.async path (64, 132) and the plain
    // loads (66: rows not 16-byte aligned; float64 input, centred); values off the origin.
    for (const [dim, f64] of [[64, false], [66, false], [132, false], [96, true]] as const) {
      const q = 131, n = 389;
      const kind = f64 ? Float64Array : Float32Array;
      const queries = new kind(q * dim).map(() => rng.uniform(-1, 3));
      const corpus = new kind(n * dim).map(() => rng.uniform(-1, 3));
      for (let r = 0; r < 40; r++) { // near pairs: query r, and corpus row 3r nudged
        for (let a = 0; a < dim; a++) {
          corpus[3 * r * dim + a] = queries[r * dim + a] + rng.uniform(-1e-3, 1e-3);
        }
      }
      corpus.set(queries.subarray(0, dim), 7 * dim); // an exact copy: distance 0
      const [cpu, cuda] = await Promise.all(
        [cpuDevice, gpu()].map((device) =>
          l2Distances(queries, corpus, { dim, device, squared: true })
        ),
      );
      const where = `seed ${rng.seed}, dim ${dim}${f64 ? " (float64)" : ""}`;
      assert.equal(cuda[7], 0, `${where}: a copy's distance`);
      // Float64 input is centred first, the centre summed in another order on each build: a
      // coordinate may round the other way, so near pairs agree to that, not bit for bit.
      for (let r = 0; r < 40; r++) {
        const [got, want] = [cuda[r * n + 3 * r], cpu[r * n + 3 * r]];
        if (!f64) assert.equal(got, want, `${where}: near pair ${r}`);
        else assert.ok(Math.abs(got - want) <= 1e-3 * want, `${where}: near pair ${r}`);
      }
      let worst = 0;
      for (let i = 0; i < q * n; i++) {
        worst = Math.max(worst, Math.abs(cuda[i] - cpu[i]) / Math.max(cpu[i], 1e-30));
      }
      assert.ok(
        worst < (f64 ? 2 ** -17 : 2 ** -18),
        `${where}: worst relative difference ${worst}`,
      );
    }
  },
);
