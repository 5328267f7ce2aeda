/** The garbage-collection safety net: an unfreed buffer is freed and reported with its label. */

import assert from "node:assert/strict";
import { DeviceBuffer, HostResource, MemoryTracker, setActiveTracker } from "../mod.ts";
import { type CollectedBuffer, setCollectedBufferReporter } from "../src/buffers/collection_net.ts";

const gc = (globalThis as { gc?: () => void }).gc;

Deno.test({
  name: gc
    ? "a buffer collected without free() is freed and reported"
    : "a buffer collected without free() is freed and reported (ignored: run with --v8-flags=--expose-gc)",
  ignore: gc === undefined,
  async fn() {
    const host = new HostResource();
    const reports: CollectedBuffer[] = [];
    const previous = setCollectedBufferReporter((report) => reports.push(report));
    try {
      (() => {
        const lost = DeviceBuffer.allocate(4096, { resource: host, label: "test.lost" });
        const view = lost.view(0, 16); // a view keeps its owner alive while reachable...
        void view; // ...and here neither is reachable after the function returns
      })();
      const kept = DeviceBuffer.allocate(64, { resource: host, label: "test.kept" });
      for (let i = 0; i < 50 && reports.length === 0; i++) {
        gc!();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(reports.length, 1);
      assert.deepEqual(reports[0], { device: "cpu", bytes: 4096, label: "test.lost" });
      assert.equal(host.live.count, 1, "the lost buffer's memory went back; the kept one is live");
      kept.free();
      assert.equal(host.live.count, 0);
    } finally {
      setCollectedBufferReporter(previous);
    }
  },
});

Deno.test("a view keeps its owner's memory alive", async () => {
  const host = new HostResource();
  const view = (() => DeviceBuffer.allocate(256, { resource: host }).view(0, 128))();
  gc?.();
  await new Promise((resolve) => setTimeout(resolve, 10));
  gc?.();
  view.copyFromHost(new Uint8Array(128).fill(9));
  assert.ok(view.copyToHost().every((b) => b === 9));
  assert.equal(host.live.count, 1);
  view.owner!.free();
});

Deno.test("the nursery: frees in any order, long loops and survivors leave exact counts", async () => {
  const host = new HostResource();
  const tracker = new MemoryTracker();
  const previous = setActiveTracker(tracker);
  try {
    // Freed out of allocation order within the task: only the top is popped, the rest skipped.
    const a = DeviceBuffer.allocate(64, { resource: host, label: "net.a" });
    const b = DeviceBuffer.allocate(64, { resource: host, label: "net.b" });
    const c = DeviceBuffer.allocate(64, { resource: host, label: "net.c" });
    a.free();
    c.free();
    // A synchronous loop longer than the nursery: sweeps happen mid-task, survivors get records.
    const kept: DeviceBuffer[] = [];
    for (let i = 0; i < 5000; i++) {
      const buffer = DeviceBuffer.allocate(32, { resource: host, label: "net.loop" });
      if (i % 7 === 0) kept.push(buffer);
      else buffer.free();
    }
    assert.equal(tracker.liveByLabel("net.loop").count, kept.length);
    await Promise.resolve(); // the task ends: b is swept into a record
    assert.deepEqual(
      tracker.live().map((allocation) => allocation.label).filter((label) => label === "net.b"),
      ["net.b"],
    );
    assert.equal(host.live.count, 1 + kept.length);
    b.free();
    b.free(); // idempotent after its record was made
    for (const buffer of kept) buffer.free();
    assert.equal(host.live.count, 0);
    tracker.assertNoLeaks();
    assert.equal(tracker.live().length, 0);
  } finally {
    setActiveTracker(previous);
  }
});
