/**
 * The particle step's contracts (csrc/sim/particles.h), for the cpu build and the CUDA build:
 * a float64 reference of the same physics on fresh random particles, streams, bad input.
 */

import assert from "node:assert/strict";
import {
  DeviceBuffer,
  InvalidArgumentError,
  type MemoryDevice,
  stepParticles,
  Stream,
} from "../../mod.ts";
import { expectError } from "./expect_error.ts";
import { type Seeded, withSeed } from "./meshes.ts";
import { suiteTests } from "./register.ts";

/** The step in float64: what particles.h computes, without float32 rounding. */
function referenceStep(
  p: Float64Array,
  v: Float64Array,
  dt: number,
  substeps: number,
  time: number,
): void {
  const f = Math.fround; // the constants as the float32 kernel holds them
  for (let i = 0; i < p.length; i += 3) {
    let [x, y, z] = [p[i], p[i + 1], p[i + 2]];
    let [vx, vy, vz] = [v[i], v[i + 1], v[i + 2]];
    for (let s = 0; s < substeps; s++) {
      const t = time + s * dt;
      let ax = 0, ay = 0, az = 0;
      for (let w = 0; w < 3; w++) {
        const phase = t + f(2.0943951) * w;
        const c = [0.5 * Math.cos(phase), 0.5 * Math.sin(phase), 0.25 * Math.sin(2 * phase)];
        const dx = c[0] - x, dy = c[1] - y, dz = c[2] - z;
        const r2 = dx * dx + dy * dy + dz * dz + f(0.05) * f(0.05);
        const inv = 1 / (r2 * Math.sqrt(r2));
        const strength = f(0.3) + f(0.1) * w;
        ax += strength * dx * inv;
        ay += strength * dy * inv;
        az += strength * dz * inv;
      }
      const keep = 1 - f(0.2) * dt;
      vx = (vx + ax * dt) * keep;
      vy = (vy + ay * dt) * keep;
      vz = (vz + az * dt) * keep;
      x += vx * dt;
      y += vy * dt;
      z += vz * dt;
      if (x > 1) [x, vx] = [2 - x, -0.5 * vx];
      if (x < -1) [x, vx] = [-2 - x, -0.5 * vx];
      if (y > 1) [y, vy] = [2 - y, -0.5 * vy];
      if (y < -1) [y, vy] = [-2 - y, -0.5 * vy];
      if (z > 1) [z, vz] = [2 - z, -0.5 * vz];
      if (z < -1) [z, vz] = [-2 - z, -0.5 * vz];
    }
    p.set([x, y, z], i);
    v.set([vx, vy, vz], i);
  }
}

/** `n` particles in the box, at rest or moving, kept away from the wells' singular centres. */
function randomParticles(rng: Seeded, n: number) {
  const p = new Float32Array(3 * n), v = new Float32Array(3 * n);
  for (let i = 0; i < 3 * n; i++) {
    p[i] = rng.uniform(-0.98, 0.98);
    v[i] = rng.uniform(-0.5, 0.5);
  }
  return { p, v };
}

/** Registers the contracts as `<suite>: ...`, ignored with `ignore` as the reason. */
export function registerParticleContracts(
  suite: string,
  open: () => MemoryDevice,
  ignore?: string,
): void {
  const test = suiteTests(suite, ignore, open);

  test("stepParticles matches a float64 reference on fresh random particles", (device) =>
    withSeed((rng) => {
      for (const n of [1, 255, 4099, 100_003]) {
        const { p, v } = randomParticles(rng, n);
        const dt = 0.001 + 0.002 * rng.next(), substeps = 1 + Math.floor(rng.next() * 4);
        const time = rng.uniform(0, 10);
        using dp = DeviceBuffer.fromHost(p, { device });
        using dv = DeviceBuffer.fromHost(v, { device });
        stepParticles(dp.typed(Float32Array), dv.typed(Float32Array), { dt, substeps, time });
        const gotP = dp.typed(Float32Array).copyToHost(new Float32Array(3 * n).fill(NaN));
        const gotV = dv.typed(Float32Array).copyToHost(new Float32Array(3 * n).fill(NaN));
        const wantP = Float64Array.from(p), wantV = Float64Array.from(v);
        referenceStep(wantP, wantV, Math.fround(dt), substeps, Math.fround(time));
        let worstP = 0, worstV = 0;
        for (let i = 0; i < 3 * n; i++) {
          const ep = Math.abs(gotP[i] - wantP[i]), ev = Math.abs(gotV[i] - wantV[i]);
          // NaN never passes: (NaN <= worst) is false, so it becomes Infinity.
          if (!(ep <= worstP)) worstP = Number.isNaN(ep) ? Infinity : ep;
          if (!(ev <= worstV)) worstV = Number.isNaN(ev) ? Infinity : ev / (1 + Math.abs(wantV[i]));
        }
        assert.ok(worstP < 1e-5, `n=${n}: positions off by ${worstP}`);
        assert.ok(worstV < 1e-4, `n=${n}: velocities off by ${worstV}`);
      }
    }));

  test("stepParticles on a stream is done once the stream is; many frames stay in the box", async (device) => {
    await withSeed(async (rng) => {
      using stream = new Stream(device);
      const n = 50_000;
      const { p, v } = randomParticles(rng, n);
      using dp = DeviceBuffer.fromHost(p, { device });
      using dv = DeviceBuffer.fromHost(v, { device });
      for (let frame = 0; frame < 20; frame++) {
        stepParticles(dp.typed(Float32Array), dv.typed(Float32Array), {
          substeps: 10,
          time: frame * 0.02,
          stream,
        });
      }
      await stream.synchronizeAsync();
      const got = dp.typed(Float32Array).copyToHost();
      assert.ok(got.every((x) => Number.isFinite(x) && Math.abs(x) <= 1), "inside [-1, 1]^3");
    });
  });

  test("stepParticles rejects bad input before the kernel runs", (device) => {
    using p = DeviceBuffer.allocate(36, { device });
    using v = DeviceBuffer.allocate(36, { device });
    using short = DeviceBuffer.allocate(24, { device });
    const P = p.typed(Float32Array), V = v.typed(Float32Array);
    const bad: [() => unknown, RegExp][] = [
      [() => stepParticles(P, short.typed(Float32Array)), /velocities/],
      [() => stepParticles(P.bytes.typed(Int32Array) as never, V), /positions/],
      [() => stepParticles(p.view(0, 32).typed(Float32Array), V), /positions/],
      [() => stepParticles(P, V, { dt: 0 }), /dt/],
      [() => stepParticles(P, V, { dt: NaN }), /dt/],
      [() => stepParticles(P, V, { substeps: 0 }), /substeps/],
      [() => stepParticles(P, V, { substeps: 1.5 }), /substeps/],
      [() => stepParticles(P, V, { time: Infinity }), /time/],
      [() => stepParticles(P, V, null as never), /options/],
    ];
    for (const [call, pattern] of bad) {
      assert.match(expectError(call, InvalidArgumentError).message, pattern);
    }
  });
}
