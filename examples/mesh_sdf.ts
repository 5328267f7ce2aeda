/**
 * Samples the signed distance of a mesh on a regular grid and writes it to a file: the input of
 * marching cubes, collision fields, or a neural SDF's training set.
 *
 *   deno run --allow-ffi --allow-env --allow-read --allow-write --allow-sys examples/mesh_sdf.ts \
 *     [--mesh path/to/mesh.npz] [--size 128] [--sign pseudonormal|winding|parity] [--out sdf.bin]
 *
 * Without --mesh it samples a torus made here. A .npz needs `vertices` (float32 or float64, N×3)
 * and `faces` (int32, M×3), as numpy writes them. The output is a 64-byte header (the magic
 * "GMSDF\0\0\0", size as uint32, padding, then the grid's min corner and cell size as float64
 * xyz, xyz) and size³ float32 distances, x fastest, negative inside; in numpy:
 * `np.fromfile(path, np.float32, offset=64).reshape(size, size, size)` (indexed [z, y, x]).
 *
 * @module
 */

import { defaultDevice, MeshBvh } from "../mod.ts";
import { readNpz } from "../src/cli/meshes.ts";

function option(name: string, fallback: string): string {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 && at + 1 < Deno.args.length ? Deno.args[at + 1] : fallback;
}

/** A torus around z: `rings` × `sides` quads, two triangles each, outward, closed. */
function torus(major = 1, minor = 0.35, rings = 96, sides = 48) {
  const vertices = new Float64Array(rings * sides * 3);
  const triangles = new Uint32Array(rings * sides * 6);
  for (let i = 0; i < rings; i++) {
    for (let j = 0; j < sides; j++) {
      const u = (2 * Math.PI * i) / rings, v = (2 * Math.PI * j) / sides;
      const r = major + minor * Math.cos(v), at = 3 * (i * sides + j);
      vertices.set([r * Math.cos(u), r * Math.sin(u), minor * Math.sin(v)], at);
      const a = i * sides + j, b = ((i + 1) % rings) * sides + j;
      const c = ((i + 1) % rings) * sides + (j + 1) % sides, d = i * sides + (j + 1) % sides;
      triangles.set([a, b, c, a, c, d], 6 * (i * sides + j));
    }
  }
  return { vertices, triangles };
}

async function loadMesh(path: string) {
  if (path === "") return torus();
  const npz = await readNpz(path);
  const faces = npz.faces as Int32Array;
  return {
    vertices: npz.vertices,
    triangles: new Uint32Array(faces.buffer, faces.byteOffset, faces.length),
  };
}

const size = Number(option("size", "96"));
const sign = option("sign", "pseudonormal") as "pseudonormal" | "winding" | "parity";
const out = option("out", "sdf.bin");
const mesh = await loadMesh(option("mesh", ""));
const device = defaultDevice();

using bvh = await MeshBvh.build(mesh.vertices as Float32Array | Float64Array, mesh.triangles, {
  device,
});
// The grid covers the bounds with a 10% margin on every side.
const lo = [0, 1, 2].map((k) => bvh.bounds[k] - 0.1 * (bvh.bounds[3 + k] - bvh.bounds[k]));
const extent = Math.max(...[0, 1, 2].map((k) => (bvh.bounds[3 + k] - bvh.bounds[k]) * 1.2));
const cell = extent / (size - 1);
const points = new Float64Array(size * size * size * 3);
for (let z = 0, at = 0; z < size; z++) {
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++, at += 3) {
      points[at] = lo[0] + x * cell;
      points[at + 1] = lo[1] + y * cell;
      points[at + 2] = lo[2] + z * cell;
    }
  }
}
const start = performance.now();
const { distance } = await bvh.signedDistance(points, { sign });
const ms = performance.now() - start;

const header = new ArrayBuffer(64);
new Uint8Array(header).set(new TextEncoder().encode("GMSDF\0\0\0"));
new DataView(header).setUint32(8, size, true);
new Float64Array(header, 16, 6).set([...lo, cell, cell, cell]);
const file = new Uint8Array(64 + distance.byteLength);
file.set(new Uint8Array(header));
file.set(new Uint8Array(distance.buffer), 64);
await Deno.writeFile(out, file);

const inside = distance.reduce((n, d) => n + (d < 0 ? 1 : 0), 0);
console.log(
  `${bvh} on ${device.id}: ${size}³ = ${distance.length} samples (${sign}) in ${
    ms.toFixed(1)
  } ms; ` +
    `${((inside / distance.length) * 100).toFixed(1)}% inside; wrote ${out}`,
);
