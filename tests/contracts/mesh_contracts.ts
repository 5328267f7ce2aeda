/** The MeshBvh contracts, for the cpu device and CUDA devices alike. */

import assert from "node:assert/strict";
import {
  cpuDevice,
  DeviceBuffer,
  DisposedError,
  getMemoryManager,
  InvalidArgumentError,
  type MemoryDevice,
  MeshBvh,
} from "../../mod.ts";
import {
  bounds,
  boxPoints,
  closestReference,
  faceDistance2,
  icosphere,
  type Mesh,
  rayReference,
  readNpz,
  Seeded,
  triangleSoup,
  windingReference,
  withSeed,
} from "./meshes.ts";
import { SAH_MAX_TRIANGLES } from "../../src/kernels/mesh_build.ts";
import { suiteTests } from "./register.ts";

/** Where the bunny is: GPUMEM_BUNNY, else the peers kit beside the project. */
const BUNNY_PATH = Deno.env.get("GPUMEM_BUNNY") ??
  new URL("../../../shared/peers/mesh_knn/data/bunny.npz", import.meta.url).pathname;

async function loadBunny(): Promise<Mesh | null> {
  try {
    const npz = await readNpz(BUNNY_PATH);
    return {
      vertices: npz.vertices_f64 as Float64Array,
      triangles: new Uint32Array((npz.faces as Int32Array).buffer),
    };
  } catch {
    return null;
  }
}

/** The bunny, or why not (the test that needs it is then ignored with this reason). */
export const bunny: Mesh | null = await loadBunny();

/** Asserts every distance is within `tolerance` of the float64 reference, faces consistent. */
function checkClosest(
  mesh: Mesh,
  points: Float64Array,
  result: {
    distance: Float32Array;
    faceId: Int32Array;
    point?: Float32Array;
    barycentric?: Float32Array;
  },
  tolerance: number,
): void {
  const reference = closestReference(mesh, points);
  for (let i = 0; i < reference.length; i++) {
    const expected = Math.sqrt(reference[i]);
    const p = [points[3 * i], points[3 * i + 1], points[3 * i + 2]];
    const face = result.faceId[i];
    assert.ok(face >= 0 && face < mesh.triangles.length / 3, `point ${i}: face ${face}`);
    assert.ok(
      Math.abs(Math.abs(result.distance[i]) - expected) <= tolerance,
      `point ${i}: distance ${result.distance[i]}, float64 reference ${expected}`,
    );
    // Ties allowed: the reported face must itself be (one of) the closest.
    const faceDistance = Math.sqrt(faceDistance2(mesh, face, p));
    assert.ok(
      Math.abs(faceDistance - expected) <= tolerance,
      `point ${i}: face ${face} is not closest`,
    );
    if (result.point && result.barycentric) {
      const q = [0, 1, 2].map((k) => result.point![3 * i + k]);
      const d = Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
      assert.ok(
        Math.abs(d - expected) <= tolerance * 4 + 1e-6 * Math.hypot(...p),
        `point ${i}: closest point off`,
      );
      const w = [0, 1, 2].map((k) => result.barycentric![3 * i + k]);
      assert.ok(
        Math.abs(w[0] + w[1] + w[2] - 1) < 1e-5 && w.every((x) => x >= -1e-6),
        `point ${i}: weights ${w}`,
      );
    }
  }
}

/** Registers the contracts as `<suite>: ...` tests, ignored with `ignore` as the reason. */
export function registerMeshContracts(
  suite: string,
  open: () => MemoryDevice,
  ignore?: string,
): void {
  const test = suiteTests(suite, ignore, open);

  test("closest points match a float64 brute force on fresh random soups and spheres", (device) =>
    withSeed(async (rng) => {
      // Small meshes are built by the SAH on the host, larger ones in Morton order: both, here.
      const large = triangleSoup(rng, SAH_MAX_TRIANGLES + 1000);
      for (const mesh of [triangleSoup(rng, 700), icosphere(3), large]) {
        const diagonal = bounds(mesh).diagonal;
        for (const leafSize of mesh === large ? [4] : [1, 4, 13]) {
          using bvh = await MeshBvh.build(new Float32Array(mesh.vertices), mesh.triangles, {
            device,
            leafSize,
          });
          const points = boxPoints(rng, mesh, mesh === large ? 200 : 1500, 1.5);
          const result = await bvh.closestPoints(new Float32Array(points));
          checkClosest(mesh, new Float64Array(new Float32Array(points)), result, 1e-5 * diagonal);
        }
      }
    }));

  test("coordinates offset by 1e5 (float64 in) keep their precision; points 1e6 away too", (device) =>
    withSeed(async (rng) => {
      const mesh = triangleSoup(rng, 400, 1e5);
      const diagonal = bounds(mesh).diagonal;
      using bvh = await MeshBvh.build(mesh.vertices, mesh.triangles, { device });
      const near = boxPoints(rng, mesh, 800, 1.3);
      checkClosest(mesh, near, await bvh.closestPoints(near), 1e-5 * diagonal);
      const far = near.map((x, i) => i % 3 === 0 ? x + 1e6 : x);
      const reference = closestReference(mesh, far);
      const result = await bvh.closestPoints(far);
      for (let i = 0; i < reference.length; i++) {
        const expected = Math.sqrt(reference[i]);
        // float32 output: its rounding (6e-8 relative) is all the error there is.
        assert.ok(Math.abs(result.distance[i] - expected) <= 1.2e-7 * expected, `far point ${i}`);
      }
      // Rays from 1e6 away toward the mesh hit where float64 says.
      const origins = far.slice(0, 600), directions = new Float64Array(600);
      for (let i = 0; i < 200; i++) {
        for (let k = 0; k < 3; k++) directions[3 * i + k] = near[3 * i + k] - origins[3 * i + k];
      }
      const hits = await bvh.rayCast(origins, directions);
      const rayReferenceT = rayReference(mesh, origins, directions);
      for (let i = 0; i < 200; i++) {
        if (rayReferenceT[i] === Infinity) continue;
        assert.ok(
          hits.faceId[i] >= 0 && Math.abs(hits.t[i] - rayReferenceT[i]) < 1e-6,
          `far ray ${i}`,
        );
      }
    }));

  test("maxDistance: faces beyond it are -1 with distance Infinity, nearer ones found", (device) =>
    withSeed(async (rng) => {
      const mesh = icosphere(2);
      using bvh = await MeshBvh.build(mesh.vertices, mesh.triangles, { device });
      const points = boxPoints(rng, mesh, 500, 3);
      const reference = closestReference(mesh, points);
      const result = await bvh.closestPoints(points, { maxDistance: 0.5 });
      for (let i = 0; i < reference.length; i++) {
        if (Math.sqrt(reference[i]) < 0.499) assert.ok(result.faceId[i] >= 0, `point ${i}`);
        if (Math.sqrt(reference[i]) > 0.501) {
          assert.equal(result.faceId[i], -1);
          assert.equal(result.distance[i], Infinity);
          assert.ok(Number.isNaN(result.point[3 * i]));
        }
      }
    }));

  test("signed distances: pseudonormal, winding and parity agree with the sphere off the surface", (device) =>
    withSeed(async (rng) => {
      const mesh = icosphere(3, 2, [1e5, -3, 7]);
      using bvh = await MeshBvh.build(mesh.vertices, mesh.triangles, { device });
      const points = boxPoints(rng, mesh, 2000, 1.4);
      for (const sign of ["pseudonormal", "winding", "parity"] as const) {
        const { distance, faceId } = await bvh.signedDistance(points, { sign });
        for (let i = 0; i < faceId.length; i++) {
          const r = Math.hypot(points[3 * i] - 1e5, points[3 * i + 1] + 3, points[3 * i + 2] - 7);
          if (Math.abs(r - 2) < 0.05) continue; // the tessellation's sag
          assert.equal(
            distance[i] < 0,
            r < 2,
            `${sign}: point ${i} at radius ${r}: ${distance[i]}`,
          );
        }
      }
    }));

  test("the winding number signs a mesh with a hole; parity and pseudo-normals are for closed ones", (device) =>
    withSeed(async (rng) => {
      const sphere = icosphere(3);
      const open: Mesh = { vertices: sphere.vertices, triangles: sphere.triangles.slice(3) };
      using bvh = await MeshBvh.build(open.vertices, open.triangles, { device });
      const points = boxPoints(rng, open, 600, 1.6);
      const winding = windingReference(open, points);
      const { distance } = await bvh.signedDistance(points, { sign: "winding" });
      for (let i = 0; i < winding.length; i++) {
        if (Math.abs(winding[i] - 0.5) < 0.1) continue;
        assert.equal(distance[i] < 0, winding[i] > 0.5, `point ${i}: winding ${winding[i]}`);
      }
    }));

  test(
    "the bunny: distances within 1e-5 of its diagonal, signs right off the surface, rays agree",
    async (device) => {
      const mesh = bunny!;
      await withSeed(async (rng) => {
        const diagonal = bounds(mesh).diagonal;
        using bvh = await MeshBvh.build(new Float32Array(mesh.vertices), mesh.triangles, {
          device,
        });
        const points = boxPoints(rng, mesh, 2000, 1.2);
        checkClosest(mesh, points, await bvh.closestPoints(points), 1e-5 * diagonal);
        const winding = windingReference(mesh, points);
        for (const sign of ["pseudonormal", "winding", "parity"] as const) {
          const { distance } = await bvh.signedDistance(points, { sign });
          for (let i = 0; i < winding.length; i++) {
            if (Math.abs(distance[i]) < 1e-3 * diagonal) continue;
            assert.equal(distance[i] < 0, winding[i] > 0.5, `${sign}: point ${i}`);
          }
        }
        const { origins, directions } = rays(rng, mesh, 1500);
        checkRays(mesh, origins, directions, await bvh.rayCast(origins, directions), diagonal);
      });
    },
    ignore ?? (bunny === null ? `the bunny is not at ${BUNNY_PATH} (set GPUMEM_BUNNY)` : undefined),
  );

  test("ray casts match a float64 brute force: t, faces, misses; anyHit and tMax", (device) =>
    withSeed(async (rng) => {
      // A soup the SAH builds and one built in Morton order.
      for (const size of [600, SAH_MAX_TRIANGLES + 1000]) {
        const mesh = triangleSoup(rng, size);
        const diagonal = bounds(mesh).diagonal;
        using bvh = await MeshBvh.build(mesh.vertices, mesh.triangles, { device });
        const { origins, directions } = rays(rng, mesh, 2000);
        const hits = await bvh.rayCast(origins, directions);
        checkRays(mesh, origins, directions, hits, diagonal);
        const reference = rayReference(mesh, origins, directions);
        const any = await bvh.rayCast(origins, directions, { anyHit: true });
        const capped = await bvh.rayCast(origins, directions, { tMax: 1 });
        for (let i = 0; i < reference.length; i++) {
          // Against the nearest-hit query, not float64: a grazing ray may go either way (above).
          assert.equal(any.faceId[i] >= 0, hits.faceId[i] >= 0, `anyHit ${i}`);
          if (reference[i] < 0.999) assert.ok(capped.faceId[i] >= 0, `tMax ${i}`);
          if (reference[i] > 1.001) assert.equal(capped.faceId[i], -1, `tMax ${i}`);
        }
      }
    }));

  test("device views in, labelled device buffers out, the same answers as host arrays", (device) =>
    withSeed(async (rng) => {
      const mesh = icosphere(3);
      using vertices = DeviceBuffer.fromHost(new Float32Array(mesh.vertices), { device });
      using triangles = DeviceBuffer.fromHost(mesh.triangles, { device });
      using bvh = await MeshBvh.build(vertices.typed(Float32Array), triangles.typed(Uint32Array), {
        device,
      });
      using hostBuilt = await MeshBvh.build(new Float32Array(mesh.vertices), mesh.triangles, {
        device,
      });
      const points = new Float32Array(boxPoints(rng, mesh, 40_000));
      using input = DeviceBuffer.fromHost(points, { device });
      const onDevice = await bvh.closestPoints(input.typed(Float32Array));
      const onHost = await hostBuilt.closestPoints(points);
      try {
        assert.equal(onDevice.distance.label, "bvh.out.distance");
        assert.deepEqual(onDevice.distance.typed(Float32Array).copyToHost(), onHost.distance);
        assert.deepEqual(onDevice.faceId.typed(Int32Array).copyToHost(), onHost.faceId);
      } finally {
        for (const buffer of Object.values(onDevice)) buffer.free();
      }
    }));

  test("refit moves the mesh: answers equal a fresh build of the moved mesh", (device) =>
    withSeed(async (rng) => {
      const mesh = icosphere(3);
      using bvh = await MeshBvh.build(mesh.vertices, mesh.triangles, { device });
      const moved = mesh.vertices.map((x, i) => (i % 3 === 1 ? x * 1.5 + 0.25 : x));
      await bvh.refit(moved);
      const movedMesh = { vertices: moved, triangles: mesh.triangles };
      const points = boxPoints(rng, movedMesh, 1000);
      checkClosest(
        movedMesh,
        points,
        await bvh.closestPoints(points),
        1e-5 * bounds(movedMesh).diagonal,
      );
      const { distance } = await bvh.signedDistance(points, { sign: "pseudonormal" });
      const winding = windingReference(movedMesh, points);
      for (let i = 0; i < winding.length; i++) {
        if (Math.abs(distance[i]) > 0.02) assert.equal(distance[i] < 0, winding[i] > 0.5);
      }
      assert.ok(Math.abs(bvh.bounds[4] - 1.75) < 1e-3, `bounds ${bvh.bounds}`);
    }));

  test("bad input is a typed error before any kernel runs, and nothing is left allocated", async (device) => {
    const pool = getMemoryManager().pool(device);
    const before = pool.stats().allocatedBytes.current;
    const tri = new Uint32Array([0, 1, 2]);
    const v = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]);
    const cases: [string, () => Promise<unknown>][] = [
      ["no triangles", () => MeshBvh.build(v, new Uint32Array(0), { device })],
      ["index out of range", () => MeshBvh.build(v, new Uint32Array([0, 1, 3]), { device })],
      ["negative index", () => MeshBvh.build(v, new Int32Array([0, -1, 2]), { device })],
      [
        "NaN vertex",
        () => MeshBvh.build(new Float32Array([0, 0, NaN, 1, 0, 0, 0, 1, 0]), tri, { device }),
      ],
      [
        "infinite vertex",
        () => MeshBvh.build(new Float64Array([0, 0, 0, Infinity, 0, 0, 0, 1, 0]), tri, { device }),
      ],
      ["length not a multiple of 3", () => MeshBvh.build(v.subarray(0, 8), tri, { device })],
      ["index length", () => MeshBvh.build(v, new Uint32Array([0, 1]), { device })],
      ["wrong vertex type", () => MeshBvh.build(new Int32Array(9) as never, tri, { device })],
      ["wrong index type", () => MeshBvh.build(v, new Float32Array(3) as never, { device })],
      ["leafSize 0", () => MeshBvh.build(v, tri, { device, leafSize: 0 })],
      ["leafSize 2.5", () => MeshBvh.build(v, tri, { device, leafSize: 2.5 })],
      ["options null", () => MeshBvh.build(v, tri, null as never)],
      ["empty label", () => MeshBvh.build(v, tri, { device, label: "" })],
    ];
    for (const [name, call] of cases) {
      await assert.rejects(call, InvalidArgumentError, name);
    }
    // The message names the first bad index and quotes it from the host array, wherever it is
    // checked (on a CUDA device, in the uploaded copy).
    await assert.rejects(
      () => MeshBvh.build(v, new Uint32Array([0, 1, 3]), { device }),
      /1 out of range, the first at element 2 \(3\)/,
    );
    using bvh = await MeshBvh.build(v, tri, { device });
    const queryCases: [string, () => Promise<unknown>][] = [
      ["NaN point", () => bvh.closestPoints(new Float32Array([0, NaN, 0]))],
      ["point length", () => bvh.closestPoints(new Float32Array(4))],
      ["maxDistance -1", () => bvh.closestPoints(new Float32Array(3), { maxDistance: -1 })],
      ["sign", () => bvh.signedDistance(new Float32Array(3), { sign: "nope" as never })],
      ["ray lengths", () => bvh.rayCast(new Float32Array(3), new Float32Array(6))],
      ["ray types", () => bvh.rayCast(new Float32Array(3), new Float64Array(3))],
      ["tMax NaN", () => bvh.rayCast(new Float32Array(3), new Float32Array(3), { tMax: NaN })],
      [
        "anyHit 1",
        () => bvh.rayCast(new Float32Array(3), new Float32Array(3), { anyHit: 1 as never }),
      ],
      ["refit count", () => bvh.refit(new Float32Array(6))],
      ["refit NaN", () => bvh.refit(new Float32Array([0, 0, 0, 1, NaN, 0, 0, 1, 0]))],
    ];
    for (const [name, call] of queryCases) {
      await assert.rejects(call, InvalidArgumentError, name);
    }
    if (device !== cpuDevice) {
      using elsewhere = DeviceBuffer.fromHost(v, { device: cpuDevice });
      await assert.rejects(
        () => MeshBvh.build(elsewhere.typed(Float32Array), tri, { device }),
        InvalidArgumentError,
      );
    }
    bvh.free();
    bvh.free();
    await assert.rejects(() => bvh.closestPoints(new Float32Array(3)), DisposedError);
    assert.equal(pool.stats().allocatedBytes.current, before);
  });

  test("degenerate meshes: one triangle, zero-area triangles only, all vertices on a line", (device) =>
    withSeed(async (rng) => {
      const line = new Float64Array(30).map((_, i) => (i % 3 === 0 ? i : 0));
      const flat = Uint32Array.from({ length: 24 }, (_, i) => (i * 7) % 10);
      for (
        const mesh of [{
          vertices: new Float64Array([0, 0, 0, 1, 0, 0, 0, 1, 0]),
          triangles: new Uint32Array([0, 1, 2]),
        }, { vertices: line, triangles: flat }]
      ) {
        using bvh = await MeshBvh.build(mesh.vertices, mesh.triangles, { device });
        const points = boxPoints(rng, mesh, 300, 2).map((x) => x + rng.uniform(-1, 1));
        checkClosest(
          mesh,
          points,
          await bvh.closestPoints(points),
          1e-5 * (bounds(mesh).diagonal + 1),
        );
      }
    }));

  test(
    "build, query, free on the bunny 10,000 times: the pool's statistics end where they began",
    async (device) => {
      const mesh = bunny!;
      const vertices = new Float32Array(mesh.vertices);
      const points = new Float32Array(boxPoints(new Seeded(7), mesh, 64));
      const pool = getMemoryManager().pool(device);
      const start = pool.stats();
      const free = device.memInfo().free;
      let bytes = 0;
      for (let i = 0; i < 10_000; i++) {
        using bvh = await MeshBvh.build(vertices, mesh.triangles, { device });
        bytes = bvh.byteLength;
        const { faceId } = await bvh.closestPoints(points);
        assert.ok(faceId[0] >= 0);
      }
      const end = pool.stats();
      assert.equal(end.allocatedBytes.current, start.allocatedBytes.current);
      assert.ok(end.reservedBytes.current <= start.reservedBytes.current + 4 * bytes + (64 << 20));
      if (device.kind === "cuda") {
        // What the pool reserves is all the device lost (cuMemGetInfo).
        const grew = end.reservedBytes.current - start.reservedBytes.current;
        assert.ok(device.memInfo().free >= free - grew - (2 << 20), "device memory leaked");
      }
    },
    ignore ?? (bunny === null ? `the bunny is not at ${BUNNY_PATH} (set GPUMEM_BUNNY)` : undefined),
  );
}

/** Rays from a sphere around the mesh toward points in its box (and some random directions). */
function rays(rng: Seeded, mesh: Mesh, count: number) {
  const { lo, hi, diagonal } = bounds(mesh);
  const origins = new Float64Array(3 * count), directions = new Float64Array(3 * count);
  for (let i = 0; i < count; i++) {
    const u = [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)];
    const n = Math.hypot(...u) || 1;
    for (let k = 0; k < 3; k++) {
      const centre = (lo[k] + hi[k]) / 2;
      origins[3 * i + k] = i % 5 === 0 ? rng.uniform(lo[k], hi[k]) : centre + diagonal * u[k] / n;
      const target = rng.uniform(lo[k], hi[k]);
      directions[3 * i + k] = (target - origins[3 * i + k]) / diagonal;
    }
  }
  return { origins, directions };
}

function checkRays(
  mesh: Mesh,
  origins: Float64Array,
  directions: Float64Array,
  hits: { t: Float32Array; faceId: Int32Array; barycentric: Float32Array },
  diagonal: number,
): void {
  const reference = rayReference(mesh, origins, directions);
  let disagree = 0;
  for (let i = 0; i < reference.length; i++) {
    if ((hits.faceId[i] >= 0) !== (reference[i] < Infinity)) {
      disagree++; // a ray grazing an edge may go either way in float32
      continue;
    }
    if (reference[i] === Infinity) {
      assert.equal(hits.t[i], Infinity);
      continue;
    }
    const length = Math.hypot(directions[3 * i], directions[3 * i + 1], directions[3 * i + 2]);
    if (Math.abs(hits.t[i] - reference[i]) * length <= 1e-5 * diagonal) continue;
    // Another face than float64's nearest: right only where a ray grazes an edge, so that in
    // float32 it enters the neighbouring face, and the hit point then lies on that face.
    const p = [0, 1, 2].map((k) => origins[3 * i + k] + hits.t[i] * directions[3 * i + k]);
    const off = Math.sqrt(faceDistance2(mesh, hits.faceId[i], p));
    assert.ok(
      off <= 1e-5 * diagonal,
      `ray ${i}: t ${hits.t[i]} vs ${reference[i]}, ${off} off face ${hits.faceId[i]}`,
    );
    disagree++;
  }
  // Grazing rays: a few per thousand may fall either side of an edge in float32.
  assert.ok(
    disagree <= Math.max(3, reference.length * 3e-3),
    `${disagree} rays disagree on hit or miss, or on the face`,
  );
}
