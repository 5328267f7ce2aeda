/**
 * MeshBvh throughput on the meshes the cuBVH kit times (../shared/peers/mesh_knn): build from
 * host arrays (upload included), unsigned distance on 1M and 10M points uniform in the 1.2x box,
 * signed distance (three sign modes) on 1M, and 1M rays from a sphere of 1.5x the half-diagonal
 * toward points in the box. Queries take device views and give device buffers, as cuBVH takes
 * and gives CUDA tensors. Each figure: one warm-up, then the median of 5.
 *
 *   deno run -A bench/mesh_bench.ts MESH_DIR [out.json]
 *
 * MESH_LEAF=n builds with leafSize n (default 4); MESH_QUICK=1 times 1M unsigned distances,
 * pseudo-normal signs and rays only.
 *
 * MESH_DIR holds NAME.vertices.f32 and NAME.triangles.u32 files (bench/mesh_data.py writes them
 * from the kit's synth.py); without it, icospheres made here stand in.
 */

import {
  defaultDevice,
  DeviceBuffer,
  getMemoryManager,
  type MemoryDevice,
  MeshBvh,
} from "../mod.ts";
import { icosphere, Seeded } from "../tests/contracts/meshes.ts";
import { medianMs } from "./median.ts";

interface MeshData {
  name: string;
  vertices: Float32Array;
  triangles: Uint32Array;
}

function loadMeshes(dir: string | undefined): MeshData[] {
  if (dir === undefined) {
    return [3, 6].map((level) => {
      const m = icosphere(level);
      return {
        name: `icosphere_L${level}`,
        vertices: new Float32Array(m.vertices),
        triangles: m.triangles,
      };
    });
  }
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
    n.endsWith(".vertices.f32")
  )
    .map((n) => n.replace(".vertices.f32", "")).sort((
      a,
      b,
    ) => (a === "bunny" ? -1 : b === "bunny" ? 1 : a.localeCompare(b)));
  return names.map((name) => ({
    name,
    vertices: new Float32Array(Deno.readFileSync(`${dir}/${name}.vertices.f32`).buffer),
    triangles: new Uint32Array(Deno.readFileSync(`${dir}/${name}.triangles.u32`).buffer),
  }));
}

function boxPoints(rng: Seeded, lo: number[], hi: number[], n: number): Float32Array {
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) {
      const c = (lo[k] + hi[k]) / 2, h = (hi[k] - lo[k]) / 2 * 1.2;
      out[3 * i + k] = c + h * (2 * rng.next() - 1);
    }
  }
  return out;
}

function sphereRays(rng: Seeded, lo: number[], hi: number[], n: number) {
  const o = new Float32Array(3 * n), d = new Float32Array(3 * n);
  const half = [0, 1, 2].map((k) => (hi[k] - lo[k]) / 2);
  const r = 1.5 * Math.hypot(...half);
  for (let i = 0; i < n; i++) {
    const u = [0, 1, 2].map(() => gaussian(rng));
    const un = Math.hypot(...u);
    const dir = [0, 0, 0];
    for (let k = 0; k < 3; k++) {
      const c = (lo[k] + hi[k]) / 2;
      o[3 * i + k] = c + r * u[k] / un;
      dir[k] = c + half[k] * (2 * rng.next() - 1) - o[3 * i + k];
    }
    const dn = Math.hypot(...dir);
    for (let k = 0; k < 3; k++) d[3 * i + k] = dir[k] / dn;
  }
  return { o, d };
}

function gaussian(rng: Seeded): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

function freeAll(result: Record<string, DeviceBuffer>): void {
  for (const b of Object.values(result)) b.free();
}

const leafSize = Number(Deno.env.get("MESH_LEAF") ?? 4);
const quick = Deno.env.get("MESH_QUICK") === "1";

async function benchMesh(device: MemoryDevice, mesh: MeshData) {
  const rng = new Seeded(1234);
  const triangles = mesh.triangles.length / 3;
  const pool = getMemoryManager().pool(device);
  let peak = 0;
  const buildMs = await medianMs(5, async () => {
    const before = pool.stats().allocatedBytes.current;
    using _bvh = await MeshBvh.build(mesh.vertices, mesh.triangles, { device, leafSize });
    peak = Math.max(peak, pool.stats().allocatedBytes.peak - before);
  });
  // The same build from device memory: the upload and host checks left out.
  using deviceVertices = DeviceBuffer.fromHost(mesh.vertices, { device });
  using deviceTriangles = DeviceBuffer.fromHost(mesh.triangles, { device });
  const buildDeviceMs = await medianMs(5, async () => {
    using _bvh = await MeshBvh.build(
      deviceVertices.typed(Float32Array),
      deviceTriangles.typed(Uint32Array),
      { device, leafSize },
    );
  });
  using bvh = await MeshBvh.build(mesh.vertices, mesh.triangles, { device, leafSize });
  const lo = [0, 1, 2].map((k) => bvh.bounds[k]), hi = [0, 1, 2].map((k) => bvh.bounds[3 + k]);
  const row: Record<string, number | string> = {
    mesh: mesh.name,
    triangles,
    nodes: bvh.nodeCount,
    leaf_size: leafSize,
    build_ms: buildMs,
    build_from_device_ms: buildDeviceMs,
    bytes_per_triangle: bvh.byteLength / triangles,
    bvh_bytes: bvh.byteLength,
  };
  using p1 = DeviceBuffer.fromHost(boxPoints(rng, lo, hi, 1_000_000), { device });
  using p10 = DeviceBuffer.fromHost(boxPoints(rng, lo, hi, quick ? 3 : 10_000_000), { device });
  const { o, d } = sphereRays(rng, lo, hi, 1_000_000);
  using ro = DeviceBuffer.fromHost(o, { device });
  using rd = DeviceBuffer.fromHost(d, { device });
  const v1 = p1.typed(Float32Array), v10 = p10.typed(Float32Array);
  const udf1 = await medianMs(5, async () => freeAll(await bvh.closestPoints(v1)));
  row.udf_1M_per_s = 1e6 / (udf1 / 1e3);
  if (!quick) {
    const udf10 = await medianMs(3, async () => freeAll(await bvh.closestPoints(v10)));
    row.udf_10M_per_s = 1e7 / (udf10 / 1e3);
  }
  for (
    const sign of quick ? ["pseudonormal"] as const : ["pseudonormal", "winding", "parity"] as const
  ) {
    const ms = await medianMs(5, async () => freeAll(await bvh.signedDistance(v1, { sign })));
    row[`sdf_${sign}_1M_per_s`] = 1e6 / (ms / 1e3);
  }
  const rays = await medianMs(
    5,
    async () => freeAll(await bvh.rayCast(ro.typed(Float32Array), rd.typed(Float32Array))),
  );
  row.rays_1M_per_s = 1e6 / (rays / 1e3);
  const hits = await bvh.rayCast(ro.typed(Float32Array), rd.typed(Float32Array));
  const faces = hits.faceId.typed(Int32Array).copyToHost();
  row.ray_hit_rate = faces.reduce((n, f) => n + (f >= 0 ? 1 : 0), 0) / faces.length;
  freeAll(hits);
  row.build_peak_bytes = peak;
  return row;
}

const device = defaultDevice();
const meshes = loadMeshes(Deno.args[0]);
const rows = [];
for (const mesh of meshes) {
  const row = await benchMesh(device, mesh);
  rows.push(row);
  console.error(JSON.stringify(row));
}
if (Deno.args[1]) {
  Deno.writeTextFileSync(
    Deno.args[1],
    JSON.stringify({ device: device.id, name: (device as { name?: string }).name, rows }, null, 1),
  );
}
const m = (x: unknown) => ((x as number) / 1e6).toFixed(1);
console.log(`\nMeshBvh on ${(device as { name?: string }).name ?? device.id}`);
console.log(
  "| mesh | tris | build ms | B/tri | udf 1M M/s | udf 10M M/s | sdf pn | sdf wind | sdf parity | rays M/s | hit |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.mesh} | ${r.triangles} | ${(r.build_ms as number).toFixed(2)} (${
      (r.build_from_device_ms as number).toFixed(2)
    }) | ${(r.bytes_per_triangle as number).toFixed(0)} | ${m(r.udf_1M_per_s)} | ${
      m(r.udf_10M_per_s)
    } | ${m(r.sdf_pseudonormal_1M_per_s)} | ${m(r.sdf_winding_1M_per_s)} | ${
      m(r.sdf_parity_1M_per_s)
    } | ${m(r.rays_1M_per_s)} | ${(r.ray_hit_rate as number).toFixed(2)} |`,
  );
}
