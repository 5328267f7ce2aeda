/**
 * Defects a hostile user found (issue 14), each with the test that failed before its fix: bad
 * input is a typed error before any work is done, and the library's state is as it was.
 */

import assert from "node:assert/strict";
import {
  activeTracker,
  BufferBatch,
  cpuDevice,
  DeviceBuffer,
  getMemoryManager,
  HostBuffer,
  InvalidArgumentError,
  kernelLibrary,
  MemoryPool,
  MemoryTracker,
  MeshBvh,
  ResizableBuffer,
  setActiveTracker,
  TransferPipeline,
} from "../../mod.ts";
import { VirtualResource } from "../../src/memory/virtual_resource.ts";

// Opened once for the process, outside any test: the resource sanitizer checks what tests open.
kernelLibrary("cpu");

/** Runs `call` and returns what it threw or rejected with (undefined when it did neither). */
async function failure(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  return undefined;
}

Deno.test("hostile: HostBuffer.free() after the user detached its memory gives the block back", () => {
  const pinned = getMemoryManager().pinnedPool(cpuDevice);
  const before = pinned.stats().allocatedBytes.current;
  const host = HostBuffer.allocate(4096, { device: cpuDevice });
  (host.bytes.buffer as ArrayBuffer).transfer(); // the user moves the bytes elsewhere
  host.free(); // was: TypeError, and the block never went back
  host.free();
  assert.equal(pinned.stats().allocatedBytes.current, before);
});

Deno.test("hostile: setActiveTracker takes a MemoryTracker or null, nothing else", () => {
  const active = activeTracker();
  for (const bad of [{}, 1, "tracker", { report() {} }]) {
    assert.throws(() => setActiveTracker(bad as never), InvalidArgumentError);
    assert.equal(activeTracker(), active);
  }
});

Deno.test("hostile: fillAsync and copyFromAsync without a stream reject before doing the work", async () => {
  using target = DeviceBuffer.fromHost(new Uint8Array(64).fill(7), { device: cpuDevice });
  using source = DeviceBuffer.fromHost(new Uint8Array(64).fill(9), { device: cpuDevice });
  for (const stream of [undefined, null, {}, 3]) {
    assert.ok(
      await failure(() => target.fillAsync(1, stream as never)) instanceof InvalidArgumentError,
    );
    assert.ok(
      await failure(() => target.copyFromAsync(source, stream as never)) instanceof
        InvalidArgumentError,
    );
  }
  assert.deepEqual(target.copyToHost(), new Uint8Array(64).fill(7)); // untouched
});

Deno.test("hostile: recordAllocation rejects byte counts, devices, labels and streams that are not", () => {
  const tracker = new MemoryTracker();
  const record = tracker.recordAllocation(100, "cpu", "kept");
  const bad: [unknown, unknown, unknown, unknown][] = [
    [NaN, "cpu", "kept", 0],
    ["12", "cpu", "kept", 0],
    [-1, "cpu", "kept", 0],
    [1.5, "cpu", "kept", 0],
    [Infinity, "cpu", "kept", 0],
    [8, "", "kept", 0],
    [8, 7, "kept", 0],
    [8, "cpu", 5, 0],
    [8, "cpu", "kept", -1],
    [8, "cpu", "kept", NaN],
  ];
  for (const [bytes, device, label, stream] of bad) {
    assert.throws(
      () =>
        tracker.recordAllocation(bytes as never, device as never, label as never, stream as never),
      InvalidArgumentError,
      `${String(bytes)} ${String(device)} ${String(label)} ${String(stream)}`,
    );
  }
  const row = tracker.report().rows.find((r) => r.label === "kept");
  assert.equal(row?.bytes, 100); // was NaN, or the string "10012"
  assert.equal(row?.count, 1);
  tracker.recordFree(record);
  tracker.assertNoLeaks();
});

Deno.test("hostile: startEventLog with a capacity it cannot hold is a typed error; nothing changes", () => {
  const tracker = new MemoryTracker();
  for (const capacity of [2 ** 40, 2 ** 27, -1, 0.5, NaN]) {
    assert.throws(() => tracker.startEventLog(capacity), InvalidArgumentError);
  }
  assert.equal(tracker.recordsAtAllocation, false); // was: counting events it never stored
  assert.equal(tracker.eventCount, 0);
  tracker.startEventLog(16);
  const record = tracker.recordAllocation(8, "cpu");
  tracker.recordFree(record);
  assert.equal(tracker.eventCount, 2);
});

Deno.test("hostile: an empty copy-strategy ResizableBuffer has an empty view, not a TypeError", () => {
  using buffer = ResizableBuffer.create(0, { device: cpuDevice, strategy: "copy" });
  const view = buffer.view();
  assert.equal(view.byteLength, 0);
  assert.throws(() => buffer.view(0, 1), InvalidArgumentError);
  buffer.resize(16);
  assert.equal(buffer.view().byteLength, 16);
});

Deno.test("hostile: the pipeline counts rejected input among its failed transfers", async () => {
  using pipeline = new TransferPipeline({ device: cpuDevice });
  using target = DeviceBuffer.allocate(16, { device: cpuDevice });
  const cases: (() => unknown)[] = [
    () => pipeline.upload(target, new Uint8Array(32)), // past the end
    () => pipeline.upload("buffer" as never, new Uint8Array(4)),
    () => pipeline.download(target, {} as never),
  ];
  for (const call of cases) assert.ok(await failure(call) instanceof InvalidArgumentError);
  assert.equal(pipeline.stats().failed, cases.length);
  assert.equal(pipeline.stats().transfers, 0);
});

Deno.test("hostile: freeing a buffer while a staged transfer writes it defers its reuse until done", async () => {
  const pool = getMemoryManager().pool(cpuDevice);
  const before = pool.stats().allocatedBytes.current;
  using pipeline = new TransferPipeline({ device: cpuDevice, offThreadFrom: 0 });
  const bytes = 64 << 20;
  const source = new Uint8Array(bytes).fill(0xab);
  const target = DeviceBuffer.allocate(bytes, { device: cpuDevice });
  const upload = pipeline.upload(target, source); // native threads write while JS runs on
  await new Promise((resolve) => setTimeout(resolve, 0)); // its turn has come: it is running
  target.free();
  // A fresh buffer of the same size must not be the memory the threads are writing.
  using fresh = DeviceBuffer.allocate(bytes, { device: cpuDevice });
  fresh.fill(0);
  pool.trim(0); // was: SIGSEGV once the freed block's range was unmapped under the threads
  await upload;
  const seen = fresh.copyToHost();
  assert.equal(seen.indexOf(0xab), -1, "the transfer wrote into the next owner's memory");
  fresh.free();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(pool.stats().allocatedBytes.current, before); // the freed block came back after
});

Deno.test("hostile: a pool over VirtualResource (addresses only) gives no buffer that could be used", () => {
  const pool = new MemoryPool(new VirtualResource());
  const attempts: [string, () => unknown][] = [
    ["DeviceBuffer.allocate", () => DeviceBuffer.allocate(64, { resource: pool })],
    ["DeviceBuffer.fromHost", () => DeviceBuffer.fromHost(new Uint8Array(8), { resource: pool })],
    [
      "DeviceBuffer from the resource itself",
      () => DeviceBuffer.allocate(64, { resource: new VirtualResource() }),
    ],
    ["HostBuffer.allocate", () => HostBuffer.allocate(64, { device: cpuDevice, pool })],
    ["ResizableBuffer.create", () => ResizableBuffer.create(64, { device: cpuDevice, pool })],
    ["TransferPipeline", () => new TransferPipeline({ device: cpuDevice, pool })],
  ];
  for (const [name, attempt] of attempts) assert.throws(attempt, InvalidArgumentError, name);
  assert.equal(pool.stats().allocatedBytes.current, 0);
  // Accounting still works: the pool itself hands out blocks of address space.
  const block = pool.allocateBlock(1 << 30);
  pool.deallocateBlock(block);
  pool.close();
});

Deno.test("hostile: closing the manager's default pool gives its memory back; the next allocation gets a new one", () => {
  const manager = getMemoryManager();
  const old = manager.pool(cpuDevice);
  DeviceBuffer.allocate(1024, { device: cpuDevice }).free();
  old.close(); // was: every later default allocation failed
  assert.equal(old.closed, true);
  using buffer = DeviceBuffer.allocate(1024, { device: cpuDevice });
  assert.notEqual(manager.pool(cpuDevice), old);
  assert.equal(buffer.resource, manager.pool(cpuDevice));
});

Deno.test("hostile: every allocating entry records the user's line as its site, not gpumem's", async () => {
  const tracker = new MemoryTracker({ sites: "on" });
  const previous = setActiveTracker(tracker);
  try {
    const made: { free(): void }[] = [
      DeviceBuffer.allocate(64, { device: cpuDevice, label: "site.allocate" }),
      DeviceBuffer.fromHost(new Uint8Array(8), { device: cpuDevice, label: "site.fromHost" }),
      HostBuffer.allocate(64, { device: cpuDevice, label: "site.host" }), // was: into transfer/
      ResizableBuffer.create(64, { device: cpuDevice, strategy: "copy", label: "site.copy" }),
      ResizableBuffer.create(64, { device: cpuDevice, label: "site.resizable" }),
    ];
    const batch = new BufferBatch({ device: cpuDevice, label: "site.batch" });
    batch.allocate(64);
    made.push(batch);
    const bvh = await MeshBvh.build(
      new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]),
      new Uint32Array([0, 1, 2]),
      { device: cpuDevice },
    );
    made.push(bvh);
    const live = tracker.live();
    assert.ok(live.length >= made.length, `${live.length} live`);
    for (const allocation of live) {
      assert.match(allocation.site ?? "", /tests\/hostile\/defects\.test\.ts/, allocation.label);
    }
    for (const m of made) m.free();
  } finally {
    setActiveTracker(previous);
  }
});
