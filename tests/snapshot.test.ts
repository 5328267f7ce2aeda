/** Snapshots: the pool's segments and blocks, the tracker's sites and ages, the event log. */

import assert from "node:assert/strict";
import {
  cpuDevice,
  DeviceBuffer,
  GpumemError,
  HostResource,
  MemoryManager,
  MemoryPool,
  type MemorySnapshot,
  MemoryTracker,
  parseSnapshot,
  setActiveTracker,
} from "../mod.ts";
import { DevicePools } from "../src/memory/default_resources.ts";
import { VirtualResource } from "../src/memory/virtual_resource.ts";
import { EventOp } from "../src/tracking/timeline.ts";

const MiB = 1 << 20;

/** Runs `fn` with `tracker` as the active one. */
function withTracker<T>(tracker: MemoryTracker, fn: () => T): T {
  const previous = setActiveTracker(tracker);
  try {
    return fn();
  } finally {
    setActiveTracker(previous);
  }
}

/** Asserts every segment's blocks tile it in address order. */
function assertTiled(snapshot: MemorySnapshot): void {
  for (const pool of [...snapshot.pools, ...snapshot.pinnedPools]) {
    for (const segment of pool.segments) {
      let offset = 0;
      for (const block of segment.blocks) {
        assert.equal(block.offset, offset, `${pool.name} ${segment.address}: blocks tile`);
        offset += block.size;
      }
      assert.equal(offset, segment.size);
    }
  }
}

Deno.test("snapshot: blocks by state with labels, sites and ages; the event log; a JSON round trip", () => {
  const tracker = new MemoryTracker({ sites: "on", timestamps: true, eventCapacity: 4096 });
  const manager = new MemoryManager(tracker, new DevicePools());
  const pool = manager.pool(cpuDevice);
  const snapshot = withTracker(tracker, () => {
    const kept = DeviceBuffer.allocate(3 * MiB, { resource: pool, label: "snap.kept" });
    const small = DeviceBuffer.allocate(4096, { resource: pool, label: "snap.small" });
    DeviceBuffer.allocate(5 * MiB, { resource: pool, label: "snap.freed" }).free();
    const taken = manager.snapshot();
    kept.free();
    small.free();
    pool.freeCache();
    return taken;
  });
  assert.equal(snapshot.format, "gpumem-snapshot");
  assertTiled(snapshot);
  const [poolSnapshot] = snapshot.pools;
  assert.equal(poolSnapshot.name, pool.name);
  assert.equal(poolSnapshot.device, "cpu");
  const blocks = poolSnapshot.segments.flatMap((segment) => segment.blocks);
  const allocated = blocks.filter((block) => block.state === "allocated");
  assert.deepEqual(allocated.map((block) => block.label).sort(), ["snap.kept", "snap.small"]);
  for (const block of allocated) {
    assert.match(block.site ?? "", /snapshot\.test\.ts/, "the site is this file");
    assert.ok(block.ageMs! >= 0, "an age");
    assert.ok(Number.isInteger(block.id));
  }
  const sum = (state: string) =>
    blocks.filter((block) => block.state === state).reduce((total, block) => total + block.size, 0);
  assert.equal(sum("allocated"), poolSnapshot.stats.allocatedBytes.current);
  assert.equal(sum("cached") + sum("pending"), poolSnapshot.stats.freeCachedBytes);
  const mapped = poolSnapshot.segments.reduce((total, segment) => total + segment.mappedBytes, 0);
  assert.equal(mapped, poolSnapshot.stats.reservedBytes.current);
  assert.deepEqual(snapshot.live.map((entry) => entry.label).sort(), ["snap.kept", "snap.small"]);

  const timeline = snapshot.timeline!;
  const ops = timeline.op;
  assert.equal(ops.filter((op) => op === EventOp.allocate).length, 3);
  assert.equal(ops.filter((op) => op === EventOp.free).length, 1);
  assert.ok(ops.includes(EventOp.reserve), "the pool's reservations are logged");
  const freed = ops.indexOf(EventOp.allocate, ops.lastIndexOf(EventOp.reserve));
  assert.equal(timeline.labels[timeline.label[freed]], "snap.freed");
  assert.ok(timeline.address[freed] > 0, "allocations carry their address");
  assert.match(timeline.sites[timeline.site[freed]], /snapshot\.test\.ts/);
  assert.equal(timeline.time?.length, ops.length);

  const text = JSON.stringify(snapshot);
  assert.deepEqual(parseSnapshot(text), snapshot, "reads back as written");
  pool.close();
});

Deno.test("snapshot: a pool growing in place shows its unmapped range and mapped bytes", () => {
  const pool = new MemoryPool(new VirtualResource(), { name: "grow" });
  const a = pool.allocateBlock(3 * MiB, undefined, "a");
  const b = pool.allocateBlock(7 * MiB, undefined, "b");
  pool.deallocateBlock(a);
  const snapshot = pool.snapshot();
  assert.equal(snapshot.expandableSegments, true);
  const growable = snapshot.segments.filter((segment) => segment.growable);
  assert.ok(growable.length > 0);
  const states = new Set(growable.flatMap((segment) => segment.blocks.map((block) => block.state)));
  assert.ok(states.has("unmapped") && states.has("allocated") && states.has("cached"));
  const mapped = snapshot.segments.reduce((total, segment) => total + segment.mappedBytes, 0);
  assert.equal(mapped, snapshot.stats.reservedBytes.current);
  assert.equal(snapshot.limit, null, "no limit is null, not Infinity");
  pool.deallocateBlock(b);
  pool.close();
});

Deno.test("snapshot: the event log marks out-of-memory and trims", () => {
  const tracker = new MemoryTracker({ eventCapacity: 64 });
  const pool = new MemoryPool(new HostResource(), { name: "small", limit: 20 * MiB });
  withTracker(tracker, () => {
    const held = DeviceBuffer.allocate(12 * MiB, { resource: pool, label: "held" });
    assert.throws(() => DeviceBuffer.allocate(12 * MiB, { resource: pool }), GpumemError);
    held.free();
    pool.freeCache();
  });
  const timeline = tracker.timeline()!;
  assert.ok(timeline.op.includes(EventOp.outOfMemory));
  assert.ok(timeline.op.includes(EventOp.trim));
  assert.deepEqual(timeline.pools, ["small"]);
  assert.equal(timeline.size[timeline.op.indexOf(EventOp.outOfMemory)], 12 * MiB);
  pool.close();
});

Deno.test("snapshot: parseSnapshot refuses what is not one", () => {
  for (const text of ["", "{}", "[1]", '{"format":"gpumem-snapshot","version":2}']) {
    assert.throws(() => parseSnapshot(text), GpumemError, JSON.stringify(text));
  }
});
