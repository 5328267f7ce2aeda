/** The distance and nearest-neighbour contracts on the CUDA build of csrc/knn/, and the CPU build's answers beside it. */

import assert from "node:assert/strict";
import {
  cpuDevice,
  getMemoryManager,
  knn,
  knnPoints,
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
