/**
 * The neighbourhood features of a LiDAR tile, as ign_lidar computes them for classification:
 * each point's normal, eigenvalues, linearity, planarity, sphericity, verticality and change of
 * curvature over its k nearest neighbours, written to a binary file.
 *
 *   deno run --allow-ffi --allow-env --allow-read --allow-write --allow-sys examples/lidar_features.ts \
 *     [--input tile.xyz.f64] [--points 1000000] [--k 20] [--out features.bin]
 *
 * Without --input it generates a tile (ground, buildings, trees at Lambert-93 offsets). An input
 * is raw float64 xyz triples, as `points.astype("float64").tofile(path)` writes them. The output
 * is a 32-byte header (the magic "GMFEAT\0\0", the point count as uint64, k and 11 as uint32,
 * 8 bytes of padding), then float32 arrays: normals (3 a point), eigenvalues (3 a point), then
 * one array each of linearity, planarity, sphericity, verticality and change of curvature. In
 * numpy: `f = np.fromfile(path, np.float32, offset=32)`; `normals = f[:3*n].reshape(n, 3)`.
 *
 * @module
 */

import { defaultDevice, pointFeatures } from "../mod.ts";
import { lidarTile } from "../src/cli/lidar_tile.ts";

function option(name: string, fallback: string): string {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 && at + 1 < Deno.args.length ? Deno.args[at + 1] : fallback;
}

const input = option("input", "");
const k = Number(option("k", "20"));
const out = option("out", "features.bin");
const points = input === ""
  ? lidarTile(Number(option("points", "1000000"))).points
  : new Float64Array((await Deno.readFile(input)).buffer);
const count = points.length / 3;
const device = defaultDevice();

const start = performance.now();
const f = await pointFeatures(points, { k, device });
const ms = performance.now() - start;

const header = new DataView(new ArrayBuffer(32));
new TextEncoder().encodeInto("GMFEAT\0\0", new Uint8Array(header.buffer));
header.setBigUint64(8, BigInt(count), true);
header.setUint32(16, k, true);
header.setUint32(20, 11, true);
// The arrays are views of one block in this order (pointFeatures' layout): one write.
const block = new Uint8Array(f.normal.buffer, f.normal.byteOffset, 11 * count * 4);
const file = await Deno.open(out, { write: true, create: true, truncate: true });
await file.write(new Uint8Array(header.buffer));
for (let at = 0; at < block.byteLength;) at += await file.write(block.subarray(at));
file.close();

let planar = 0, linear = 0, scattered = 0;
for (let i = 0; i < count; i++) {
  const l = f.linearity[i], p = f.planarity[i], s = f.sphericity[i];
  if (p >= l && p >= s) planar++;
  else if (l >= s) linear++;
  else scattered++;
}
const share = (n: number) => `${(100 * n / Math.max(count, 1)).toFixed(1)}%`;
console.log(
  `${count} points, k = ${k}, on ${device.id}: features in ${ms.toFixed(1)} ms ` +
    `(${(count / ms / 1e3).toFixed(2)} M points/s); planar ${share(planar)}, linear ${
      share(linear)
    }, ` +
    `scattered ${share(scattered)}; wrote ${out}`,
);
