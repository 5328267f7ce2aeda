/** The MeshBvh contracts on the CUDA build of csrc/bvh/, and the CPU build's answers beside it. */

import assert from "node:assert/strict";
import { cpuDevice, MeshBvh } from "../../mod.ts";
import { boxPoints, faceDistance2, icosphere, Seeded } from "../contracts/meshes.ts";
import { registerMeshContracts } from "../contracts/mesh_contracts.ts";
import { contractTest } from "../contracts/register.ts";
import { cudaKernelIgnoreReason, gpu } from "./gpu_available.ts";

registerMeshContracts("gpu mesh bvh", gpu, cudaKernelIgnoreReason);

contractTest(
  "gpu mesh bvh",
  cudaKernelIgnoreReason,
  "the CPU and CUDA builds give the same answers",
  async () => {
    const mesh = icosphere(5);
    const points = new Float32Array(boxPoints(new Seeded(), mesh, 100_000));
    const answers = [];
    for (const device of [cpuDevice, gpu()]) {
      using bvh = await MeshBvh.build(new Float32Array(mesh.vertices), mesh.triangles, { device });
      answers.push(await bvh.closestPoints(points));
    }
    const [cpu, cuda] = answers;
    for (let i = 0; i < cpu.distance.length; i++) {
      assert.ok(Math.abs(cpu.distance[i] - cuda.distance[i]) <= 2e-6, `point ${i}`);
      // Faces may differ only where both are closest (ties on shared edges and vertices).
      if (cpu.faceId[i] !== cuda.faceId[i]) {
        const p = [points[3 * i], points[3 * i + 1], points[3 * i + 2]];
        const other = Math.sqrt(faceDistance2(mesh, cuda.faceId[i], p));
        assert.ok(Math.abs(other - cpu.distance[i]) <= 2e-6, `point ${i}: face ${cuda.faceId[i]}`);
      }
    }
  },
);
