/**
 * Hostile cases that, were a check missing, would take the process down (a segfault in native
 * code, memory written after it was given back): each runs alone in its own process, started by
 * subprocess.test.ts, so a crash shows as that case failing, not as the end of the test run.
 *
 *   deno run --allow-ffi --allow-env --allow-sys tests/hostile/crash_cases.ts <case>
 *
 * A case passes when it prints `survived <case>` and exits 0.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  cpuDevice,
  DeviceBuffer,
  DisposedError,
  getMemoryManager,
  GpumemError,
  InvalidArgumentError,
  knnPoints,
  l2Distances,
  MemoryPool,
  MeshBvh,
  ResizableBuffer,
  TransferPipeline,
} from "../../mod.ts";
import { VirtualResource } from "../../src/memory/virtual_resource.ts";

async function rejects(call: () => unknown, type: new (...args: never[]) => Error): Promise<void> {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof type, `${error} is not a ${type.name}`);
    return;
  }
  assert.fail(`no ${type.name}`);
}

const square = {
  vertices: Float32Array.of(0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0),
  triangles: Uint32Array.of(0, 1, 2, 0, 2, 3),
};

/** Each case: what it does, then the typed error or the state it must end in. */
export const CASES: Record<string, () => Promise<void>> = {
  /** Defect 1: the stager's threads wrote into freed memory; trim(0) after the free crashed. */
  async "free-during-transfer-then-trim"() {
    const pool = getMemoryManager().pool(cpuDevice);
    using pipeline = new TransferPipeline({ device: cpuDevice, offThreadFrom: 0 });
    const target = DeviceBuffer.allocate(32 << 20, { device: cpuDevice });
    const upload = pipeline.upload(target, new Uint8Array(32 << 20).fill(1));
    await new Promise((resolve) => setTimeout(resolve, 0));
    target.free();
    pool.trim(0);
    await upload;
    pool.trim(0);
  },
  /** Defect 4: buffers from a pool over address space only crashed on first use. */
  async "addresses-only-pool"() {
    const pool = new MemoryPool(new VirtualResource());
    await rejects(() => DeviceBuffer.allocate(4096, { resource: pool }), InvalidArgumentError);
    pool.close();
  },
  /** A freed buffer's view handed to kernels: its address must never reach native code. */
  async "freed-view-into-kernels"() {
    const points = DeviceBuffer.fromHost(new Float32Array(300), { device: cpuDevice });
    const view = points.typed(Float32Array);
    points.free();
    await rejects(() => knnPoints(view, 1), DisposedError);
    await rejects(() => l2Distances(view, view, { dim: 3 }), DisposedError);
    using bvh = await MeshBvh.build(square.vertices, square.triangles, { device: cpuDevice });
    await rejects(() => bvh.closestPoints(view), DisposedError);
  },
  /** A BVH used after free: its nodes went back to the pool. */
  async "bvh-after-free"() {
    const bvh = await MeshBvh.build(square.vertices, square.triangles, { device: cpuDevice });
    bvh.free();
    await rejects(() => bvh.closestPoints(Float32Array.of(0, 0, 1)), DisposedError);
    await rejects(
      () => bvh.rayCast(Float32Array.of(0, 0, 1), Float32Array.of(0, 0, -1)),
      DisposedError,
    );
  },
  /** Indices past the vertices would have the kernels read past the vertex array. */
  async "mesh-indices-out-of-range"() {
    const bad = Uint32Array.of(0, 1, 2, 0, 2, 1 << 30);
    await rejects(
      () => MeshBvh.build(square.vertices, bad, { device: cpuDevice }),
      InvalidArgumentError,
    );
  },
  /** A pool closed under a live buffer would unmap memory the buffer still points into. */
  async "close-pool-under-live-buffer"() {
    const pool = new MemoryPool(getMemoryManager().pool(cpuDevice).upstream);
    const buffer = DeviceBuffer.allocate(1 << 20, { resource: pool });
    await rejects(() => pool.close(), GpumemError);
    buffer.fill(7); // still mapped
    assert.equal(buffer.copyToHost()[123], 7);
    buffer.free();
    pool.close();
  },
  /** A view into memory a shrink unmapped: using it would fault in the unmapped range. */
  async "view-after-shrink-unmaps"() {
    // Grown in two pieces, so that shrinking back unmaps the second (pieces unmap whole).
    using buffer = ResizableBuffer.create(1 << 20, { device: cpuDevice, strategy: "vmm" });
    buffer.resize(64 << 20);
    const tail = buffer.view(60 << 20, 4 << 20);
    const head = buffer.view(0, 1 << 20);
    head.fill(7);
    buffer.resize(1 << 20);
    buffer.shrinkToFit();
    assert.ok(buffer.capacity < 60 << 20, "the tail was unmapped");
    await rejects(() => tail.fill(1), DisposedError);
    await rejects(() => tail.copyToHost(), DisposedError);
    assert.equal(head.copyToHost()[12345], 7, "a view inside what stays mapped lives on");
  },
};

if (import.meta.main) {
  const name = Deno.args[0];
  const run = CASES[name];
  if (run === undefined) {
    console.error(`no case ${name}; cases: ${Object.keys(CASES).join(", ")}`);
    Deno.exit(2);
  }
  await run();
  console.log(`survived ${name}`);
}
