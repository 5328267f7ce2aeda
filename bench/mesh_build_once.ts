/**
 * One MeshBvh build from device memory, twice (a warm-up, then the one to look at), for a profiler
 * to time each build kernel: `ncu --metrics gpu__time_duration.sum deno run -A
 * bench/mesh_build_once.ts MESH_DIR NAME`.
 */

import { DeviceBuffer, MeshBvh } from "../mod.ts";

const [dir, name] = Deno.args;
const vertices = new Float32Array(Deno.readFileSync(`${dir}/${name}.vertices.f32`).buffer);
const triangles = new Uint32Array(Deno.readFileSync(`${dir}/${name}.triangles.u32`).buffer);
using v = DeviceBuffer.fromHost(vertices);
using t = DeviceBuffer.fromHost(triangles);
for (let run = 0; run < 2; run++) {
  const start = performance.now();
  using _bvh = await MeshBvh.build(v.typed(Float32Array), t.typed(Uint32Array));
  console.log(`build ${run}: ${(performance.now() - start).toFixed(2)} ms`);
}
