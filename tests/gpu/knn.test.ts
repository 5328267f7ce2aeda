/** The distance and nearest-neighbour contracts on the CUDA build of csrc/knn/, and the CPU build's answers beside it. */

import assert from "node:assert/strict";
import { cpuDevice, knn, knnPoints, pointFeatures } from "../../mod.ts";
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
