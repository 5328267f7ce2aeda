/** The examples run as a user runs them, in a subprocess, and write what they say they write. */

import assert from "node:assert/strict";

/** Runs an example as a user would, on the cpu device: its exit code and output. */
async function runExample(name: string, args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-sys",
      new URL(`../examples/${name}`, import.meta.url).pathname,
      ...args,
    ],
    env: { GPUMEM_DEVICE: "cpu" },
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

Deno.test("examples/mesh_sdf.ts samples a torus's signed distance grid and writes it", async () => {
  const out = "build/example-sdf.bin";
  try {
    const stdout = await runExample("mesh_sdf.ts", ["--size", "24", "--out", out]);
    assert.match(stdout, /24³ = 13824 samples/);
    const file = await Deno.readFile(out);
    assert.equal(file.byteLength, 64 + 4 * 24 ** 3);
    assert.equal(new TextDecoder().decode(file.subarray(0, 5)), "GMSDF");
    const distances = new Float32Array(file.buffer, 64);
    const grid = new Float64Array(file.buffer, 16, 6); // min corner xyz, cell size xyz
    // The torus (R 1, r 0.35): the signed distance of a sample is |(ρ − R, z)| − r, up to the
    // tessellation's sag (< 1e-2 here).
    let worst = 0;
    for (let z = 0, i = 0; z < 24; z++) {
      for (let y = 0; y < 24; y++) {
        for (let x = 0; x < 24; x++, i++) {
          const px = grid[0] + x * grid[3], py = grid[1] + y * grid[4], pz = grid[2] + z * grid[5];
          const exact = Math.hypot(Math.hypot(px, py) - 1, pz) - 0.35;
          worst = Math.max(worst, Math.abs(distances[i] - exact));
        }
      }
    }
    assert.ok(worst < 0.01, `worst error ${worst}`);
  } finally {
    await Deno.remove(out).catch(() => {}); // absent when the example failed: keep its error
  }
});

Deno.test("examples/lidar_features.ts computes a tile's features and writes them", async () => {
  const out = "build/example-features.bin";
  try {
    const stdout = await runExample("lidar_features.ts", [
      "--points",
      "20000",
      "--k",
      "16",
      "--out",
      out,
    ]);
    assert.match(stdout, /20000 points, k = 16/);
    const file = await Deno.readFile(out);
    assert.equal(file.byteLength, 32 + 11 * 4 * 20000);
    assert.equal(new TextDecoder().decode(file.subarray(0, 6)), "GMFEAT");
    const header = new DataView(file.buffer);
    assert.equal(header.getBigUint64(8, true), 20000n);
    const f = new Float32Array(file.buffer, 32);
    const n = 20000;
    // Normals are unit and point up; the ratios lie in [0, 1]; most of a tile is flat ground.
    let flat = 0;
    for (let i = 0; i < n; i++) {
      const len = Math.hypot(f[3 * i], f[3 * i + 1], f[3 * i + 2]);
      assert.ok(Math.abs(len - 1) < 1e-4 && f[3 * i + 2] >= 0, `normal ${i}`);
      for (let s = 0; s < 5; s++) {
        const v = f[6 * n + s * n + i];
        assert.ok(v >= 0 && v <= 1, `feature ${s} of point ${i}: ${v}`);
      }
      if (f[6 * n + 3 * n + i] < 0.1) flat++; // verticality
    }
    assert.ok(flat > 0.6 * n, `${flat} flat points`);
  } finally {
    await Deno.remove(out).catch(() => {});
  }
});

Deno.test("examples/particles.ts streams every frame back, adds particles, leaks nothing", async () => {
  const centroids = new Map<string, string>();
  for (const mode of ["ring", "sync", "compute", "readback"]) {
    const stdout = await runExample("particles.ts", [
      "--particles",
      "20000",
      "--frames",
      "12",
      "--substeps",
      "2",
      "--mode",
      mode,
    ]);
    assert.match(stdout, new RegExp(`12 frames of 20000 particles on cpu \\(${mode}\\)`), stdout);
    assert.match(stdout, mode === "compute" ? /0 read on the host/ : /12 read on the host/);
    assert.match(stdout, /tracker: nothing left allocated/);
    centroids.set(mode, /last centroid \(([^)]*)\)/.exec(stdout)?.[1] ?? "");
  }
  // The ring hands back the same last frame as waiting for it does.
  assert.equal(centroids.get("ring"), centroids.get("sync"));
});
