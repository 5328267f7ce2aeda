/** The distance and nearest-neighbour contracts, for the cpu device and CUDA devices alike. */

import assert from "node:assert/strict";
import {
  DeviceBuffer,
  getMemoryManager,
  InvalidArgumentError,
  knn,
  knnPoints,
  l2Distances,
  type MemoryDevice,
  planKnnPoints,
  pointFeatures,
  radiusSearch,
} from "../../mod.ts";
import { type Seeded, withSeed } from "./meshes.ts";
import { suiteTests } from "./register.ts";

/** A LiDAR-like patch: ground with a roof and a wall, at Lambert-93 offsets, 1 mm quantised. */
export function lidarPatch(rng: Seeded, n: number, extent = 60): Float64Array {
  const p = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    const x = rng.uniform(0, extent), y = rng.uniform(0, extent);
    const kind = rng.next();
    let z = 0.02 * Math.sin(x) + rng.uniform(-0.03, 0.03);
    if (kind < 0.2) z = 8 + 0.3 * (x % 5); // roof
    let px = x;
    if (kind > 0.95) px = extent / 2, z = rng.uniform(0, 8); // wall
    p[3 * i] = Math.round((650_000 + px) * 1000) / 1000;
    p[3 * i + 1] = Math.round((6_860_000 + y) * 1000) / 1000;
    p[3 * i + 2] = Math.round((100 + z) * 1000) / 1000;
  }
  return p;
}

/** The exact k nearest (float64, centred, ties by index) of each query among `points`. */
function referenceKnn(
  points: Float64Array,
  queries: Float64Array,
  k: number,
  skipSelf: boolean,
): { indices: number[][]; distances: number[][] } {
  const n = points.length / 3, q = queries.length / 3;
  const indices: number[][] = [], distances: number[][] = [];
  for (let i = 0; i < q; i++) {
    const d: [number, number][] = [];
    for (let j = 0; j < n; j++) {
      if (skipSelf && j === i) continue;
      const dx = points[3 * j] - queries[3 * i],
        dy = points[3 * j + 1] - queries[3 * i + 1],
        dz = points[3 * j + 2] - queries[3 * i + 2];
      d.push([Math.sqrt(dx * dx + dy * dy + dz * dz), j]);
    }
    d.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    indices.push(d.slice(0, k).map((e) => e[1]));
    distances.push(d.slice(0, k).map((e) => e[0]));
  }
  return { indices, distances };
}

/**
 * Asserts each returned row is the exact answer up to float rounding: distances within `tol`
 * of the reference's, and the same indices wherever the reference's distance is not within
 * `tol` of another (a near tie may fall either way). Reference rows should hold k + 1 entries:
 * the last returned neighbour is only clear of a tie when the one after it is known.
 */
function checkNeighbours(
  got: { indices: Int32Array; distances: Float32Array },
  ref: { indices: number[][]; distances: number[][] },
  k: number,
  tol: number,
  rows: number[],
): void {
  for (const i of rows) {
    const r = ref.distances[i];
    for (let j = 0; j < k; j++) {
      const d = got.distances[i * k + j];
      assert.ok(Math.abs(d - r[j]) <= tol, `query ${i} neighbour ${j}: ${d} vs ${r[j]}`);
      if (j > 0) assert.ok(d >= got.distances[i * k + j - 1], `query ${i}: ascending`);
      const clear = (j === 0 || r[j] - r[j - 1] > 2 * tol) &&
        (j === r.length - 1 || r[j + 1] - r[j] > 2 * tol);
      if (clear) {
        assert.equal(got.indices[i * k + j], ref.indices[i][j], `query ${i} neighbour ${j}`);
      }
    }
  }
}

function sample(rng: Seeded, n: number, count: number): number[] {
  return Array.from({ length: Math.min(n, count) }, () => Math.floor(rng.next() * n));
}

/** Registers every kNN contract under `suite` for `device()`, or ignored with `ignore`. */
export function registerKnnContracts(
  suite: string,
  device: () => MemoryDevice,
  ignore?: string,
): void {
  const test = suiteTests(suite, ignore, () => undefined);

  test("knnPoints finds the exact neighbours of a georeferenced Float64 cloud", () =>
    withSeed(async (rng) => {
      const points = lidarPatch(rng, 20_000);
      const k = 20;
      const got = await knnPoints(points, k, { device: device() });
      const rows = sample(rng, 20_000, 60);
      const queries = new Float64Array(
        rows.flatMap((i) => [points[3 * i], points[3 * i + 1], points[3 * i + 2]]),
      );
      const ref = referenceKnn(points, queries, k + 2, false);
      // The reference includes the query itself (distance 0): drop it, as excludeSelf does, and
      // keep one entry past k so a tie at the k-th neighbour is seen.
      const picked = {
        indices: new Int32Array(
          rows.flatMap((i) => Array.from(got.indices.subarray(i * k, (i + 1) * k))),
        ),
        distances: new Float32Array(
          rows.flatMap((i) => Array.from(got.distances.subarray(i * k, (i + 1) * k))),
        ),
      };
      const trimmed = {
        indices: ref.indices.map((row, r) => row.filter((j) => j !== rows[r]).slice(0, k + 1)),
        distances: ref.distances.map((row, r) =>
          row.filter((_, c) => ref.indices[r][c] !== rows[r]).slice(0, k + 1)
        ),
      };
      checkNeighbours(picked, trimmed, k, 1e-4, rows.map((_, r) => r));
    }));

  test("knnPoints with separate queries, duplicates and exact ties", () =>
    withSeed(async (rng) => {
      // A 1 m grid: many neighbours at exactly equal distances, every point twice.
      const side = 12, grid: number[] = [];
      for (let x = 0; x < side; x++) {
        for (let y = 0; y < side; y++) grid.push(x, y, 0, x, y, 0);
      }
      const points = new Float32Array(grid);
      const queries = new Float32Array(Array.from({ length: 90 }, () => rng.uniform(-1, side)));
      const k = 9;
      const got = await knnPoints(points, k, { device: device(), queries });
      const ref = referenceKnn(new Float64Array(points), new Float64Array(queries), k + 1, false);
      checkNeighbours(got, ref, k, 1e-5, Array.from({ length: 30 }, (_, i) => i));
      // On grid points exactly, ties go to the smaller index every time.
      const exact = await knnPoints(points, 5, {
        device: device(),
        queries: Float32Array.of(3, 3, 0),
      });
      const refExact = referenceKnn(new Float64Array(points), Float64Array.of(3, 3, 0), 5, false);
      assert.deepEqual(Array.from(exact.indices), refExact.indices[0]);
    }));

  test("knnPoints on degenerate clouds: a plane, a line, one repeated point", async () => {
    const line = new Float64Array(3 * 300).map((
      _,
      i,
    ) => (i % 3 === 0 ? Math.floor(i / 3) * 0.5 : 7));
    const got = await knnPoints(line, 4, { device: device() });
    assert.deepEqual(Array.from(got.indices.subarray(4 * 100, 4 * 101)), [99, 101, 98, 102]);
    const same = new Float32Array(3 * 100).fill(2.5);
    const rep = await knnPoints(same, 3, { device: device() });
    assert.deepEqual(Array.from(rep.indices.subarray(0, 3)), [1, 2, 3]);
    assert.deepEqual(Array.from(rep.indices.subarray(3 * 50, 3 * 51)), [0, 1, 2]);
    assert.ok(rep.distances.every((d) => d === 0));
    const f = await pointFeatures(same, { device: device(), k: 10 });
    assert.ok(
      f.linearity.every((v) => v === 0) && f.normal[2] === 1,
      "a repeated point has no shape",
    );
  });

  test("radiusSearch keeps the nearest within the radius, with counts", () =>
    withSeed(async (rng) => {
      const points = lidarPatch(rng, 5_000, 20);
      const radius = 0.4, max = 16;
      const got = await radiusSearch(points, radius, { device: device(), maxNeighbours: max });
      for (const i of sample(rng, 5_000, 40)) {
        const q = Float64Array.of(points[3 * i], points[3 * i + 1], points[3 * i + 2]);
        const ref = referenceKnn(points, q, 5_000, false);
        const within = ref.distances[0].filter((d, c) => d <= radius && ref.indices[0][c] !== i);
        assert.equal(got.counts[i], Math.min(within.length, max), `query ${i}`);
        for (let j = 0; j < max; j++) {
          const d = got.distances[i * max + j];
          if (j < got.counts[i]) assert.ok(Math.abs(d - within[j]) <= 1e-4);
          else assert.ok(d === Infinity && got.indices[i * max + j] === -1);
        }
      }
    }));

  test("pointFeatures match a float64 covariance and eigen-decomposition", () =>
    withSeed(async (rng) => {
      const points = lidarPatch(rng, 8_000, 25);
      const k = 20;
      const f = await pointFeatures(points, { device: device(), k });
      for (const i of sample(rng, 8_000, 40)) {
        const q = Float64Array.of(points[3 * i], points[3 * i + 1], points[3 * i + 2]);
        const near = referenceKnn(points, q, k, false).indices[0];
        const mean = [0, 1, 2].map((a) => near.reduce((s, j) => s + points[3 * j + a], 0) / k);
        const c = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
        for (const j of near) {
          for (let a = 0; a < 3; a++) {
            for (let b = 0; b < 3; b++) {
              c[a][b] += (points[3 * j + a] - mean[a]) * (points[3 * j + b] - mean[b]) / k;
            }
          }
        }
        const l = [f.eigenvalues[3 * i], f.eigenvalues[3 * i + 1], f.eigenvalues[3 * i + 2]];
        const trace = c[0][0] + c[1][1] + c[2][2];
        assert.ok(Math.abs(l[0] + l[1] + l[2] - trace) <= 1e-4 * trace + 1e-9, `point ${i}: trace`);
        assert.ok(l[0] >= l[1] && l[1] >= l[2] && l[2] >= 0, `point ${i}: order`);
        const n = [f.normal[3 * i], f.normal[3 * i + 1], f.normal[3 * i + 2]];
        assert.ok(
          Math.abs(Math.hypot(...n) - 1) < 1e-5 && n[2] >= 0,
          `point ${i}: unit, toward +z`,
        );
        // C n = λ3 n for the normal (up to the float rounding of the offsets).
        for (let a = 0; a < 3; a++) {
          const cn = c[a][0] * n[0] + c[a][1] * n[1] + c[a][2] * n[2];
          assert.ok(Math.abs(cn - l[2] * n[a]) <= 1e-4 * l[0] + 1e-7, `point ${i}: eigenvector`);
        }
        assert.ok(Math.abs(f.linearity[i] - (l[0] - l[1]) / l[0]) < 1e-5);
        assert.ok(Math.abs(f.planarity[i] - (l[1] - l[2]) / l[0]) < 1e-5);
        assert.ok(Math.abs(f.verticality[i] - (1 - Math.abs(n[2]))) < 1e-6);
      }
    }));

  test("l2Distances and knn for vectors are exact against float64", () =>
    withSeed(async (rng) => {
      for (const dim of [3, 17, 64]) {
        const q = 70, n = 530;
        const queries = new Float32Array(q * dim).map(() => rng.uniform(-1, 1));
        const corpus = new Float32Array(n * dim).map(() => rng.uniform(-1, 1));
        corpus.set(corpus.subarray(0, dim), dim * 7); // a duplicate row: an exact tie
        const d = await l2Distances(queries, corpus, { dim, device: device() });
        for (let i = 0; i < q; i += 7) {
          for (let j = 0; j < n; j += 13) {
            let s = 0;
            for (let a = 0; a < dim; a++) s += (queries[i * dim + a] - corpus[j * dim + a]) ** 2;
            assert.ok(
              Math.abs(d[i * n + j] - Math.sqrt(s)) <= 1e-5 * Math.sqrt(dim),
              `dim ${dim}: ${i}, ${j}`,
            );
          }
        }
        const k = 33;
        const got = await knn(queries, corpus, k, { dim, device: device() });
        // The order is by squared distance, ties by index: two squares a bit apart can share a
        // square root, so the reference sorts the squares the same kernel computes.
        const squares = await l2Distances(queries, corpus, {
          dim,
          device: device(),
          squared: true,
        });
        for (let i = 0; i < q; i++) {
          const row = Array.from({ length: n }, (_, j) => [squares[i * n + j], j]);
          row.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
          for (const e of row) e[0] = Math.fround(Math.sqrt(e[0]));
          assert.deepEqual(
            Array.from(got.indices.subarray(i * k, (i + 1) * k)),
            row.slice(0, k).map((e) => e[1]),
          );
          assert.deepEqual(
            Array.from(got.distances.subarray(i * k, (i + 1) * k)),
            row.slice(0, k).map((e) => e[0]),
          );
        }
        const self = await knn(corpus, corpus, 5, { dim, device: device(), excludeSelf: true });
        assert.equal(self.indices[0], 7, "row 0's duplicate is its nearest other row");
      }
    }));

  test("tf32, bf16 and fp16 distances agree with float64 to their rounding; self distances are 0", () =>
    withSeed(async (rng) => {
      // Unit-scale vectors (fp16's range), a few dims that do not fill a tensor-core step.
      for (const dim of [8, 45, 130]) {
        const q = 150, n = 260;
        const queries = new Float32Array(q * dim).map(() => rng.uniform(-1, 1));
        const corpus = new Float32Array(n * dim).map(() => rng.uniform(-1, 1));
        corpus.set(queries.subarray(0, dim), 5 * dim); // corpus row 5 is query 0
        for (const [precision, bits] of [["tf32", 10], ["bf16", 7], ["fp16", 10]] as const) {
          const d = await l2Distances(queries, corpus, { dim, device: device(), precision });
          // Each coordinate rounds by 2^-bits relatively; the squares and products by as much.
          const tol = 3 * 2 ** -bits * dim;
          for (let i = 0; i < q; i += 11) {
            for (let j = 0; j < n; j += 7) {
              let s = 0;
              for (let a = 0; a < dim; a++) s += (queries[i * dim + a] - corpus[j * dim + a]) ** 2;
              const got = d[i * n + j] ** 2;
              assert.ok(
                Math.abs(got - s) <= tol,
                `${precision} dim ${dim}: ${i}, ${j}: ${got} vs ${s}`,
              );
            }
          }
          assert.ok(
            d[5] <= Math.sqrt(tol) * 0.1 + 1e-3,
            `${precision}: a vector's distance to itself ${d[5]}`,
          );
          const near = await knn(queries, corpus, 3, { dim, device: device(), precision });
          assert.equal(near.indices[0], 5, `${precision}: query 0's nearest is its copy`);
        }
      }
    }));

  test("knn with float64 vectors far from the origin centres them first", () =>
    withSeed(async (rng) => {
      const dim = 3, n = 2_000;
      const corpus = lidarPatch(rng, n, 30);
      const got = await knn(corpus, corpus, 10, { dim, device: device(), excludeSelf: true });
      const rows = sample(rng, n, 30);
      const q = new Float64Array(
        rows.flatMap((i) => [corpus[3 * i], corpus[3 * i + 1], corpus[3 * i + 2]]),
      );
      const ref = referenceKnn(corpus, q, 11, false);
      for (let r = 0; r < rows.length; r++) {
        const want = ref.distances[r].filter((_, c) => ref.indices[r][c] !== rows[r]).slice(0, 10);
        for (let j = 0; j < 10; j++) {
          assert.ok(Math.abs(got.distances[rows[r] * 10 + j] - want[j]) <= 1e-4);
        }
      }
    }));

  test("bad input is a typed error before anything is allocated", async () => {
    const dev = device();
    const used = getMemoryManager().usedBytes(dev);
    const p = new Float32Array(30);
    const cases: [string, () => Promise<unknown>][] = [
      ["k > N - 1", () => knnPoints(p, 10, { device: dev })],
      ["k = 0", () => knnPoints(p, 0, { device: dev })],
      ["k = 257", () => knnPoints(new Float32Array(3000), 257, { device: dev })],
      ["length", () => knnPoints(new Float32Array(4), 1, { device: dev })],
      ["NaN", () => knnPoints(Float32Array.of(0, 0, 0, NaN, 0, 0), 1, { device: dev })],
      [
        "Infinity query",
        () => knnPoints(p, 1, { device: dev, queries: Float32Array.of(Infinity, 0, 0) }),
      ],
      ["radius", () => radiusSearch(p, -1, { device: dev })],
      ["features both", () => pointFeatures(p, { device: dev, k: 3, radius: 1 })],
      ["features none", () => pointFeatures(p, { device: dev })],
      ["fallback", () => knnPoints(p, 1, { device: dev, fallback: "gpu" as "cpu" })],
      ["dim", () => l2Distances(p, p, { dim: 0, device: dev })],
      ["dim multiple", () => l2Distances(p, p, { dim: 7, device: dev })],
      ["precision", () => l2Distances(p, p, { dim: 3, device: dev, precision: "fp8" as "fp32" })],
      ["mixed kinds", () => knn(p, new Float64Array(30), 1, { dim: 3, device: dev })],
      ["vector NaN", () => knn(Float32Array.of(NaN, 0, 0), p, 1, { dim: 3, device: dev })],
      ["vector k", () => knn(p, p, 11, { dim: 3, device: dev })],
      ["vector k self", () => knn(p, p, 10, { dim: 3, device: dev, excludeSelf: true })],
    ];
    for (const [name, run] of cases) {
      await assert.rejects(run, InvalidArgumentError, name);
    }
    assert.equal(getMemoryManager().usedBytes(dev), used, "nothing held after the refusals");
  });

  test("empty inputs give empty outputs", async () => {
    const dev = device();
    const none = await radiusSearch(new Float32Array(0), 1, { device: dev });
    assert.equal(none.indices.length, 0);
    const q = await knnPoints(new Float32Array(6), 1, {
      device: dev,
      queries: new Float32Array(0),
    });
    assert.equal(q.indices.length, 0);
    assert.equal(
      (await l2Distances(new Float32Array(0), new Float32Array(6), { dim: 3, device: dev })).length,
      0,
    );
    assert.equal(
      (await knn(new Float32Array(0), new Float32Array(6), 2, { dim: 3, device: dev })).indices
        .length,
      0,
    );
  });

  test("device views in give labelled device buffers out, and the same answers", () =>
    withSeed(async (rng) => {
      const dev = device();
      const points = lidarPatch(rng, 3_000, 15);
      const host = await knnPoints(points, 8, { device: dev });
      using input = DeviceBuffer.allocate(points.byteLength, { device: dev, label: "test.points" });
      input.copyFromHost(points);
      const out = await knnPoints(input.typed(Float64Array), 8);
      try {
        assert.deepEqual(out.indices.copyToHost(new Int32Array(3_000 * 8)), host.indices);
        assert.deepEqual(out.distances.copyToHost(new Float32Array(3_000 * 8)), host.distances);
      } finally {
        out.indices.free();
        out.distances.free();
      }
      const f = await pointFeatures(input.typed(Float64Array), { k: 8 });
      const hostF = await pointFeatures(points, { device: dev, k: 8 });
      try {
        assert.deepEqual(f.planarity.copyToHost(), hostF.planarity);
        assert.deepEqual(f.normal.copyToHost(), hostF.normal);
      } finally {
        f.buffer.free();
      }
    }));

  test("a float64 cloud too large to upload whole goes up in chunks and gives the same answer", () =>
    withSeed(async (rng) => {
      // Large enough that the pool's 2 MiB mapping steps are small beside what chunks save (12 B a
      // point).
      const n = 1_000_000, k = 8;
      const points = lidarPatch(rng, n);
      const pool = getMemoryManager().pool(device());
      pool.freeCache();
      const whole = planKnnPoints(n, k, { device: device() });
      assert.equal(whole.uploadChunkPoints, 0, "no limit: one upload");
      const plain = await knnPoints(points, k, { device: device() });
      // Queries of their own, converted with the frame: they see any shift of the offsets.
      const queries = points.subarray(0, 3 * 5000).map((v, i) => v + (i % 3 === 2 ? 0.3 : -0.2));
      const plainQueries = await knnPoints(points, k, { device: device(), queries });
      const previous = pool.limit;
      pool.freeCache();
      // Below what the whole upload needs (by 4 B a point), above what chunks of float offsets
      // need (12 B a point less).
      pool.limit = whole.buildBytes - 4 * n;
      try {
        const chunked = planKnnPoints(n, k, { device: device() });
        assert.ok(chunked.uploadChunkPoints > 0 && chunked.uploadChunkPoints < n, "chunks planned");
        assert.ok(chunked.buildBytes < whole.buildBytes);
        const got = await knnPoints(points, k, { device: device() });
        assert.deepEqual(got.indices, plain.indices, "the same neighbours");
        assert.deepEqual(got.distances, plain.distances, "the same distances");
        const gotQueries = await knnPoints(points, k, { device: device(), queries });
        assert.deepEqual(gotQueries.indices, plainQueries.indices);
        assert.deepEqual(gotQueries.distances, plainQueries.distances);
        // Non-finite coordinates are still found, in any chunk.
        const bad = points.slice();
        bad[3 * (n - 5) + 1] = NaN;
        await assert.rejects(knnPoints(bad, k, { device: device() }), InvalidArgumentError);
      } finally {
        pool.limit = previous;
        pool.freeCache();
      }
    }));
}
