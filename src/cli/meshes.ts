/**
 * Meshes for the demo, the examples and the tests: icospheres made here, and numpy .npz archives
 * read (such as the bunny beside the peers kit).
 *
 * @module
 */

/** A mesh: xyz per vertex, three vertex indices per triangle. */
export interface Mesh {
  vertices: Float64Array;
  triangles: Uint32Array;
}

/** The unit icosphere by midpoint subdivision: 20·4^level triangles, outward and closed. */
export function icosphere(level: number, radius = 1, centre = [0, 0, 0]): Mesh {
  const t = (1 + Math.sqrt(5)) / 2;
  let v: number[][] = [
    [-1, t, 0],
    [1, t, 0],
    [-1, -t, 0],
    [1, -t, 0],
    [0, -1, t],
    [0, 1, t],
    [0, -1, -t],
    [0, 1, -t],
    [t, 0, -1],
    [t, 0, 1],
    [-t, 0, -1],
    [-t, 0, 1],
  ];
  let f: number[][] = [
    [0, 11, 5],
    [0, 5, 1],
    [0, 1, 7],
    [0, 7, 10],
    [0, 10, 11],
    [1, 5, 9],
    [5, 11, 4],
    [11, 10, 2],
    [10, 7, 6],
    [7, 1, 8],
    [3, 9, 4],
    [3, 4, 2],
    [3, 2, 6],
    [3, 6, 8],
    [3, 8, 9],
    [4, 9, 5],
    [2, 4, 11],
    [6, 2, 10],
    [8, 6, 7],
    [9, 8, 1],
  ];
  const unit = (p: number[]) => {
    const n = Math.hypot(p[0], p[1], p[2]);
    return [p[0] / n, p[1] / n, p[2] / n];
  };
  v = v.map(unit);
  for (let l = 0; l < level; l++) {
    const mid = new Map<string, number>();
    const midpoint = (a: number, b: number) => {
      const key = a < b ? `${a},${b}` : `${b},${a}`;
      let m = mid.get(key);
      if (m === undefined) {
        m = v.length;
        v.push(unit([v[a][0] + v[b][0], v[a][1] + v[b][1], v[a][2] + v[b][2]]));
        mid.set(key, m);
      }
      return m;
    };
    const next: number[][] = [];
    for (const [a, b, c] of f) {
      const ab = midpoint(a, b), bc = midpoint(b, c), ca = midpoint(c, a);
      next.push([a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]);
    }
    f = next;
  }
  const vertices = new Float64Array(v.length * 3);
  v.forEach((p, i) => {
    for (let k = 0; k < 3; k++) vertices[3 * i + k] = centre[k] + radius * p[k];
  });
  return { vertices, triangles: Uint32Array.from(f.flat()) };
}

/** Reads a .npz archive's arrays (numpy's zip of .npy files; deflated or stored). */
export async function readNpz(
  path: string,
): Promise<Record<string, Float32Array | Float64Array | Int32Array>> {
  const bytes = await Deno.readFile(path);
  const view = new DataView(bytes.buffer);
  const out: Record<string, Float32Array | Float64Array | Int32Array> = {};
  for (let at = 0; view.getUint32(at, true) === 0x04034b50;) {
    const method = view.getUint16(at + 8, true);
    let compressed = view.getUint32(at + 18, true);
    const nameLength = view.getUint16(at + 26, true), extra = view.getUint16(at + 28, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 30, at + 30 + nameLength));
    const start = at + 30 + nameLength + extra;
    if (compressed === 0xffffffff) {
      // zip64 (numpy forces it): the sizes are in the extra field 0x0001, uncompressed first.
      for (let e = at + 30 + nameLength; e < start; e += 4 + view.getUint16(e + 2, true)) {
        if (view.getUint16(e, true) === 1) compressed = Number(view.getBigUint64(e + 12, true));
      }
    }
    let data = bytes.subarray(start, start + compressed);
    if (method === 8) {
      const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
      data = new Uint8Array(await new Response(stream).arrayBuffer());
    }
    const headerLength = new DataView(data.buffer, data.byteOffset).getUint16(8, true);
    const header = new TextDecoder().decode(data.subarray(10, 10 + headerLength));
    const body = data.slice(10 + headerLength);
    const descr = /'descr': '([^']+)'/.exec(header)?.[1];
    if (descr === "<f4") out[name.replace(/\.npy$/, "")] = new Float32Array(body.buffer);
    else if (descr === "<f8") out[name.replace(/\.npy$/, "")] = new Float64Array(body.buffer);
    else if (descr === "<i4") out[name.replace(/\.npy$/, "")] = new Int32Array(body.buffer);
    at = start + compressed;
  }
  return out;
}
