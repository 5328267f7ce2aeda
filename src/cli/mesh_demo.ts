/**
 * The demo's mesh part: a BVH over the bunny (or an icosphere where the bunny is not readable),
 * on the device the demo runs on and on the cpu device, with what each call took, and the pool
 * back where it started once the BVH is freed.
 *
 * @module
 */

import { cpuDevice, formatBytes, getMemoryManager, type MemoryDevice, MeshBvh } from "../../mod.ts";
import { icosphere, type Mesh, readNpz } from "./meshes.ts";
import { formatTable } from "./table.ts";

/** Where the demo looks for the bunny (the peers kit beside the project). */
const BUNNY = new URL("../../../shared/peers/mesh_knn/data/bunny.npz", import.meta.url).pathname;

async function demoMesh(): Promise<{ name: string; mesh: Mesh }> {
  try {
    const npz = await readNpz(BUNNY);
    return {
      name: "bunny",
      mesh: {
        vertices: npz.vertices_f64 as Float64Array,
        triangles: new Uint32Array((npz.faces as Int32Array).buffer),
      },
    };
  } catch {
    return { name: "icosphere (level 4; the bunny is not readable here)", mesh: icosphere(4) };
  }
}

/** `count` points uniform in the box 1.2× the mesh's bounds, from a fixed sequence. */
function boxPoints(bounds: Float64Array, count: number): Float32Array {
  const points = new Float32Array(3 * count);
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < 3; k++) {
      const centre = (bounds[k] + bounds[3 + k]) / 2, half = (bounds[3 + k] - bounds[k]) * 0.6;
      points[3 * i + k] = centre + half * (2 * next() - 1);
    }
  }
  return points;
}

async function timed<T>(body: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await body();
  return [result, performance.now() - start];
}

async function measure(device: MemoryDevice, mesh: Mesh, queries: number): Promise<string[]> {
  const pool = getMemoryManager().pool(device);
  const before = pool.stats().allocatedBytes.current;
  const vertices = new Float32Array(mesh.vertices);
  await (await MeshBvh.build(vertices, mesh.triangles, { device })).free(); // warm-up
  const [bvh, buildMs] = await timed(() => MeshBvh.build(vertices, mesh.triangles, { device }));
  const points = boxPoints(bvh.bounds, queries);
  await bvh.closestPoints(points.subarray(0, 3 * 1024));
  const [, closestMs] = await timed(() => bvh.closestPoints(points));
  await bvh.signedDistance(points.subarray(0, 3 * 1024));
  const [signed, signedMs] = await timed(() => bvh.signedDistance(points));
  const directions = points.map((x, i) => -x + bvh.frame[i % 3]);
  const [hits, raysMs] = await timed(() => bvh.rayCast(points, directions));
  const inside = signed.distance.reduce((n, d) => n + (d < 0 ? 1 : 0), 0) / queries;
  const hitRate = hits.faceId.reduce((n, f) => n + (f >= 0 ? 1 : 0), 0) / queries;
  const bytes = bvh.byteLength;
  bvh.free();
  const leftOver = pool.stats().allocatedBytes.current - before;
  const rate = (ms: number) => `${(queries / ms / 1e3).toFixed(1)} M/s`;
  return [
    device.id,
    `${buildMs.toFixed(2)} ms`,
    formatBytes(bytes),
    rate(closestMs),
    `${rate(signedMs)} (${(inside * 100).toFixed(0)}% in)`,
    `${rate(raysMs)} (${(hitRate * 100).toFixed(0)}% hit)`,
    formatBytes(leftOver),
  ];
}

/** Prints the mesh table for `device` and, when that is a GPU, the cpu device beside it. */
export async function showMeshBvh(device: MemoryDevice): Promise<void> {
  const { name, mesh } = await demoMesh();
  const queries = 100_000;
  const rows = [await measure(device, mesh, queries)];
  if (device !== cpuDevice) rows.push(await measure(cpuDevice, mesh, queries));
  console.log(
    `\nMeshBvh over the ${name}, ${mesh.triangles.length / 3} triangles; ${queries} points in ` +
      "its box, host arrays in and out (build: upload, checks and both passes):",
  );
  console.log(formatTable(
    ["device", "build", "held", "closest", "signed", "rays", "left after free"],
    rows,
  ));
}
