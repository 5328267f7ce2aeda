/** The process-wide manager on the cpu device: pools, check-before-allocate, usage, reports. */

import assert from "node:assert/strict";
import {
  activeTracker,
  cpuDevice,
  DeviceBuffer,
  getMemoryManager,
  InvalidArgumentError,
  MemoryManager,
  MemoryTracker,
  OutOfMemoryError,
} from "../mod.ts";

const MiB = 1 << 20;

Deno.test("manager: one per process, its tracker active, a pool per device behind DeviceBuffer", () => {
  const manager = getMemoryManager();
  assert.equal(getMemoryManager(), manager);
  assert.equal(activeTracker(), manager.tracker);
  const pool = manager.pool(cpuDevice);
  using buffer = DeviceBuffer.allocate(3 * MiB, { device: cpuDevice, label: "manager.test" });
  assert.equal(buffer.resource, pool, "default allocations come from the manager's pool");
  assert.equal(manager.usedBytes(cpuDevice), 3 * MiB);
  assert.ok(manager.totalUsage().devices.cpu.reservedBytes >= 3 * MiB);
  assert.deepEqual(manager.tracker.liveByLabel("manager.test"), { count: 1, bytes: 3 * MiB });
  const report = manager.report();
  assert.match(report, /cpu: 3\.00 MiB allocated/);
  assert.match(report, /1 × manager\.test/);
});

Deno.test("manager: canAllocate counts the cache, frees it before saying no, honours the limit", () => {
  const manager = getMemoryManager();
  const pool = manager.pool(cpuDevice);
  manager.freeCache();
  const previous = pool.limit;
  pool.limit = "40MiB";
  try {
    const held = DeviceBuffer.allocate(20 * MiB, { device: cpuDevice });
    const cached = DeviceBuffer.allocate(16 * MiB, { device: cpuDevice });
    cached.free();
    assert.ok(manager.canAllocate(16 * MiB, cpuDevice), "the cached block fits");
    assert.ok(manager.canAllocate(18 * MiB, cpuDevice), "fits once the cache is given back");
    const fits = DeviceBuffer.allocate(18 * MiB, { device: cpuDevice }); // the pool frees its cache
    assert.equal(pool.stats().freeCachedBytes, 0);
    assert.equal(pool.stats().reservedBytes.current, 38 * MiB);
    fits.free();
    assert.equal(manager.canAllocate(24 * MiB, cpuDevice), false, "over the limit");
    assert.throws(() => DeviceBuffer.allocate(24 * MiB, { device: cpuDevice }), OutOfMemoryError);
    assert.throws(() => manager.canAllocate(-1, cpuDevice), InvalidArgumentError);
    assert.throws(() => manager.pool({} as never), InvalidArgumentError);
    held.free();
  } finally {
    pool.limit = previous;
    manager.freeCache();
  }
  assert.equal(manager.usedBytes(cpuDevice), 0);
});

Deno.test("manager: a second manager owns its own pools; the process manager's serve buffers", () => {
  const process = getMemoryManager();
  const other = new MemoryManager(new MemoryTracker());
  assert.notEqual(other.pool(cpuDevice), process.pool(cpuDevice));
  assert.notEqual(other.pinnedPool(cpuDevice), process.pinnedPool(cpuDevice));
  using mine = DeviceBuffer.allocate(MiB, { resource: other.pool(cpuDevice), label: "other" });
  using theirs = DeviceBuffer.allocate(MiB, { device: cpuDevice, label: "process" });
  assert.equal(theirs.resource, process.pool(cpuDevice), "no resource named: the process pool");
  assert.equal(other.usedBytes(cpuDevice), MiB);
  assert.equal(other.totalUsage().devices.cpu.allocatedBytes, MiB, "only its own pools count");
  mine.free();
  other.pool(cpuDevice).close();
  assert.equal(other.usedBytes(cpuDevice), 0, "a closed pool is replaced by a fresh one");
});

Deno.test("manager: at exit the pools give their cached memory back; live blocks stay", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-env",
      "--allow-sys",
      new URL("./fixtures/exit_release.ts", import.meta.url).pathname,
    ],
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const result = JSON.parse(new TextDecoder().decode(stdout));
  assert.ok(result.before > 9 << 20, "something was cached before");
  assert.equal(result.sameDevicePool, true, "the pool with a live block stays open");
  assert.equal(result.deviceAllocated, 1 << 20, "the live block is untouched");
  assert.ok(result.deviceReserved < 4 << 20, "its cache went back");
  assert.equal(result.pinnedReserved, 0, "the idle pinned pool was closed");
});

Deno.test("manager: something shaped unlike a device is InvalidArgumentError wherever a device is taken", () => {
  // Before, `{}` reached the CUDA upstream's capability read: a TypeError on a GPU host and a
  // DriverUnavailableError without one.
  for (const device of [{}, { kind: "cuda" }, { kind: "cpu", id: 5 }] as never[]) {
    assert.throws(() => DeviceBuffer.allocate(8, { device }), InvalidArgumentError);
    assert.throws(() => getMemoryManager().pool(device), InvalidArgumentError);
    assert.throws(() => getMemoryManager().pinnedPool(device), InvalidArgumentError);
  }
});
