/** The examples run as a user runs them, in a subprocess, and write what they say they write. */

import assert from "node:assert/strict";

Deno.test("examples/mesh_sdf.ts samples a torus's signed distance grid and writes it", async () => {
  const out = "build/example-sdf.bin";
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--allow-env",
        "--allow-read",
        "--allow-write",
        "--allow-sys",
        new URL("../examples/mesh_sdf.ts", import.meta.url).pathname,
        "--size",
        "24",
        "--out",
        out,
      ],
      env: { GPUMEM_DEVICE: "cpu" },
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(new TextDecoder().decode(stdout), /24³ = 13824 samples/);
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
    await Deno.remove(out);
  }
});
