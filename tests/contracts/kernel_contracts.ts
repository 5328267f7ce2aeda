/** The kernel-library contracts, for the cpu build and the CUDA build alike. */

import assert from "node:assert/strict";
import {
  axpy,
  DeviceBuffer,
  DisposedError,
  InvalidArgumentError,
  type MemoryDevice,
  Stream,
} from "../../mod.ts";
import { randomFloats } from "./random.ts";
import { suiteTests } from "./register.ts";

/** Registers the contracts as Deno tests named `<suite>: ...`, ignored with `ignore` as the reason. */
export function registerKernelContracts(
  suite: string,
  open: () => MemoryDevice,
  ignore?: string,
): void {
  const test = suiteTests(suite, ignore, open);

  /** Largest error relative to |a·x| + |y| against a float64 reference; NaN never passes. */
  const worstRelativeError = (
    a: number,
    x: Float32Array,
    y: Float32Array,
    result: Float32Array,
  ) => {
    const a32 = Math.fround(a);
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const error = Math.abs(result[i] - (a32 * x[i] + y[i])) /
        (Math.abs(a32 * x[i]) + Math.abs(y[i]) + 1e-30);
      if (!(error <= worst)) worst = Number.isNaN(error) ? Infinity : error;
    }
    return worst;
  };

  test("axpy matches a float64 reference on fresh random inputs, every element written", (device) => {
    for (const n of [1, 255, 257, 100_003, 1 << 20]) {
      const x = randomFloats(n);
      const y = randomFloats(n);
      const a = (Math.random() - 0.5) * 8;
      using dx = DeviceBuffer.fromHost(x, { device });
      using dy = DeviceBuffer.fromHost(y, { device });
      axpy(a, dx.typed(Float32Array), dy.typed(Float32Array));
      const result = dy.typed(Float32Array).copyToHost(new Float32Array(n).fill(NaN));
      assert.ok(worstRelativeError(a, x, y, result) < 2.5e-7, `n=${n}`);
    }
  });

  test("axpy on a stream is done once the stream is", async (device) => {
    using stream = new Stream(device);
    const n = 1 << 18;
    const x = randomFloats(n);
    const y = randomFloats(n);
    using dx = DeviceBuffer.fromHost(x, { device });
    using dy = DeviceBuffer.fromHost(y, { device });
    axpy(-1.5, dx.typed(Float32Array), dy.typed(Float32Array), stream);
    const result = await dy.typed(Float32Array).copyToHostAsync(stream);
    assert.ok(worstRelativeError(-1.5, x, y, result) < 2.5e-7);
  });

  test("axpy on a view touches only the view", (device) => {
    const y = randomFloats(300);
    using dx = DeviceBuffer.fromHost(randomFloats(300), { device });
    using dy = DeviceBuffer.fromHost(y, { device });
    axpy(2, dx.typed(Float32Array, 100, 100), dy.typed(Float32Array, 100, 100));
    const result = dy.typed(Float32Array).copyToHost();
    assert.deepEqual(result.subarray(0, 100), y.subarray(0, 100));
    assert.deepEqual(result.subarray(200), y.subarray(200));
  });

  test("axpy rejects bad input before the library is called", (device) => {
    using dx = DeviceBuffer.allocate(400, { device });
    using dy = DeviceBuffer.allocate(800, { device });
    const x = dx.typed(Float32Array);
    const y = dy.typed(Float32Array);
    assert.throws(() => axpy(1, x, y), InvalidArgumentError, "lengths differ");
    assert.throws(() => axpy(NaN, x, dy.typed(Float32Array, 0, 100)), InvalidArgumentError);
    assert.throws(() => axpy(1, dx.typed(Int32Array) as never, y), InvalidArgumentError);
    assert.throws(() => axpy(1, x, null as never), InvalidArgumentError);
    const owner = DeviceBuffer.allocate(400, { device });
    const dead = owner.typed(Float32Array);
    owner.free();
    assert.throws(() => axpy(1, x, dead), DisposedError);
  });
}
