/**
 * Test geometry and float64 references for the mesh BVH: a seeded generator (its seed printed
 * when a test fails), icospheres, random triangle soups, the bunny, and brute-force closest
 * points, ray hits and winding numbers in float64.
 */

import { icosphere, type Mesh, readNpz } from "../../src/cli/meshes.ts";

export { icosphere, type Mesh, readNpz };

/** A seeded generator (splitmix32): the same seed gives the same inputs. */
export class Seeded {
  readonly seed: number;
  #state: number;
  constructor(seed = crypto.getRandomValues(new Uint32Array(1))[0]) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let z = (this.#state = (this.#state + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  }
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
}

/** Runs `body` with a fresh seeded generator; a failure names the seed to replay it with. */
export async function withSeed(body: (rng: Seeded) => void | Promise<void>): Promise<void> {
  const replay = Deno.env.get("GPUMEM_TEST_SEED");
  const rng = new Seeded(replay === undefined ? undefined : Number(replay));
  try {
    await body(rng);
  } catch (error) {
    (error as Error).message += `\n  (seed ${rng.seed}: rerun with GPUMEM_TEST_SEED=${rng.seed})`;
    throw error;
  }
}

/** `count` random triangles (some tiny, some degenerate) in [-1, 1]^3 plus `offset`. */
export function triangleSoup(rng: Seeded, count: number, offset = 0): Mesh {
  const vertices = new Float64Array(9 * count);
  for (let t = 0; t < count; t++) {
    const size = rng.next() < 0.2 ? 1e-3 : 0.3;
    const c = [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)];
    for (let corner = 0; corner < 3; corner++) {
      for (let k = 0; k < 3; k++) {
        vertices[9 * t + 3 * corner + k] = offset + c[k] + size * rng.uniform(-1, 1);
      }
    }
    if (t % 17 === 5) {
      // A zero-area triangle: its third vertex on its first edge.
      for (let k = 0; k < 3; k++) {
        vertices[9 * t + 6 + k] = (vertices[9 * t + k] + vertices[9 * t + 3 + k]) / 2;
      }
    }
  }
  return { vertices, triangles: Uint32Array.from({ length: 3 * count }, (_, i) => i) };
}

/** `count` points uniform in the mesh's bounding box scaled by `scale` about its centre. */
export function boxPoints(rng: Seeded, mesh: Mesh, count: number, scale = 1.2): Float64Array {
  const { lo, hi } = bounds(mesh);
  const points = new Float64Array(3 * count);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < 3; k++) {
      const centre = (lo[k] + hi[k]) / 2, half = (hi[k] - lo[k]) / 2 * scale;
      points[3 * i + k] = centre + rng.uniform(-half, half);
    }
  }
  return points;
}

/** The mesh's bounding box. */
export function bounds(mesh: Mesh): { lo: number[]; hi: number[]; diagonal: number } {
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < mesh.vertices.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      lo[k] = Math.min(lo[k], mesh.vertices[i + k]);
      hi[k] = Math.max(hi[k], mesh.vertices[i + k]);
    }
  }
  return { lo, hi, diagonal: Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) };
}

function corner(mesh: Mesh, t: number, c: number): number[] {
  const i = 3 * mesh.triangles[3 * t + c];
  return [mesh.vertices[i], mesh.vertices[i + 1], mesh.vertices[i + 2]];
}

const sub = (a: number[], b: number[]) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: number[], b: number[]) => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

/** Squared distance from p to segment ab. */
function segment2(p: number[], a: number[], b: number[]): number {
  const d = sub(b, a), dd = dot(d, d);
  const t = dd > 0 ? Math.min(1, Math.max(0, dot(sub(p, a), d) / dd)) : 0;
  const q = [a[0] + t * d[0], a[1] + t * d[1], a[2] + t * d[2]];
  const e = sub(p, q);
  return dot(e, e);
}

/** Squared distance from p to triangle abc in float64 (projection, else the nearest edge). */
export function triangleDistance2(p: number[], a: number[], b: number[], c: number[]): number {
  const n = cross(sub(b, a), sub(c, a));
  const nn = dot(n, n);
  if (nn > 0) {
    const s = dot(sub(p, a), n) / nn;
    const q = [p[0] - s * n[0], p[1] - s * n[1], p[2] - s * n[2]];
    const inside = dot(cross(sub(b, a), sub(q, a)), n) >= 0 &&
      dot(cross(sub(c, b), sub(q, b)), n) >= 0 && dot(cross(sub(a, c), sub(q, c)), n) >= 0;
    if (inside) return s * s * nn;
  }
  return Math.min(segment2(p, a, b), segment2(p, b, c), segment2(p, c, a));
}

/** Brute force: the closest triangle's squared distance for each point. */
export function closestReference(mesh: Mesh, points: Float64Array): Float64Array {
  const count = points.length / 3, triangles = mesh.triangles.length / 3;
  const out = new Float64Array(count);
  const corners = Array.from(
    { length: triangles },
    (_, t) => [0, 1, 2].map((c) => corner(mesh, t, c)),
  );
  for (let i = 0; i < count; i++) {
    const p = [points[3 * i], points[3 * i + 1], points[3 * i + 2]];
    let best = Infinity;
    for (let t = 0; t < triangles; t++) {
      const [a, b, c] = corners[t];
      best = Math.min(best, triangleDistance2(p, a, b, c));
    }
    out[i] = best;
  }
  return out;
}

/** Squared distance from p to input triangle t. */
export function faceDistance2(mesh: Mesh, t: number, p: number[]): number {
  return triangleDistance2(p, corner(mesh, t, 0), corner(mesh, t, 1), corner(mesh, t, 2));
}

/** Brute force: the nearest hit parameter of each ray (Infinity on a miss), in float64. */
export function rayReference(
  mesh: Mesh,
  origins: Float64Array,
  directions: Float64Array,
): Float64Array {
  const count = origins.length / 3, triangles = mesh.triangles.length / 3;
  const out = new Float64Array(count).fill(Infinity);
  for (let i = 0; i < count; i++) {
    const o = [origins[3 * i], origins[3 * i + 1], origins[3 * i + 2]];
    const d = [directions[3 * i], directions[3 * i + 1], directions[3 * i + 2]];
    for (let t = 0; t < triangles; t++) {
      const hit = rayTriangle(o, d, corner(mesh, t, 0), corner(mesh, t, 1), corner(mesh, t, 2));
      if (hit < out[i]) out[i] = hit;
    }
  }
  return out;
}

function rayTriangle(o: number[], d: number[], a: number[], b: number[], c: number[]): number {
  const e1 = sub(b, a), e2 = sub(c, a), p = cross(d, e2), det = dot(e1, p);
  if (det === 0) return Infinity;
  const s = sub(o, a), u = dot(s, p) / det;
  if (u < 0 || u > 1) return Infinity;
  const q = cross(s, e1), v = dot(d, q) / det;
  if (v < 0 || u + v > 1) return Infinity;
  const t = dot(e2, q) / det;
  return t >= 0 ? t : Infinity;
}

/** The generalised winding number at each point (exact solid angles, float64). */
export function windingReference(mesh: Mesh, points: Float64Array): Float64Array {
  const count = points.length / 3, triangles = mesh.triangles.length / 3;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const p = [points[3 * i], points[3 * i + 1], points[3 * i + 2]];
    let total = 0;
    for (let t = 0; t < triangles; t++) {
      const a = sub(corner(mesh, t, 0), p),
        b = sub(corner(mesh, t, 1), p),
        c = sub(corner(mesh, t, 2), p);
      const la = Math.hypot(...a), lb = Math.hypot(...b), lc = Math.hypot(...c);
      total += 2 *
        Math.atan2(
          dot(a, cross(b, c)),
          la * lb * lc + dot(a, b) * lc + dot(a, c) * lb + dot(b, c) * la,
        );
    }
    out[i] = total / (4 * Math.PI);
  }
  return out;
}
