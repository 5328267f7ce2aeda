/** BufferBatch: buffers owned together, freed together, released one by one. */

import assert from "node:assert/strict";
import {
  BufferBatch,
  DeviceBuffer,
  DisposedError,
  GpumemError,
  HostResource,
  InvalidArgumentError,
  MemoryPool,
} from "../mod.ts";

Deno.test("batch: frees everything it owns at scope end, keeps what was released", () => {
  const pool = new MemoryPool(new HostResource());
  let kept: DeviceBuffer;
  let dropped: DeviceBuffer;
  {
    using batch = new BufferBatch({ resource: pool, label: "frame" });
    kept = batch.allocate(4096);
    dropped = batch.allocate(1024, { label: "frame.scratch" });
    const adopted = batch.adopt(DeviceBuffer.allocate(512, { resource: pool }));
    assert.equal(batch.adopt(adopted), adopted, "adopting twice is a no-op");
    assert.equal(batch.size, 3);
    assert.equal(batch.byteLength, 4096 + 1024 + 512);
    assert.equal(dropped.label, "frame.scratch");
    assert.equal(kept.label, "frame");
    assert.equal(batch.release(kept), kept);
    assert.equal(pool.stats().allocations.current, 3);
  }
  assert.ok(dropped.disposed);
  assert.throws(() => dropped.copyToHost(), DisposedError);
  assert.ok(!kept.disposed);
  assert.equal(pool.stats().allocations.current, 1);
  kept.free();
  assert.equal(pool.stats().allocations.current, 0);
});

Deno.test("batch: bad use is a typed error and leaks nothing", () => {
  const host = new HostResource();
  const a = new BufferBatch({ resource: host });
  const b = new BufferBatch({ resource: host });
  const buffer = a.allocate(64);
  assert.throws(() => b.adopt(buffer), GpumemError, "in another batch");
  assert.throws(() => b.release(buffer), InvalidArgumentError);
  assert.throws(() => a.adopt(buffer.view(0, 8)), InvalidArgumentError, "a view is not owned");
  assert.throws(() => a.allocate(-1), InvalidArgumentError);
  const early = a.allocate(32);
  early.free(); // freed before the batch: dropped quietly at dispose
  a.free();
  a.free();
  assert.throws(() => a.allocate(8), DisposedError);
  b.free();
  assert.equal(host.live.count, 0);
  assert.throws(() => new BufferBatch(null as never), InvalidArgumentError);
});
