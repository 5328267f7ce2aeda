/** MemoryTracker: labels, reports, scopes, sites, the event log and its replay. */

import assert from "node:assert/strict";
import {
  DeviceBuffer,
  HostResource,
  InvalidArgumentError,
  type MemoryReport,
  MemoryTracker,
  replayTrace,
  setActiveTracker,
} from "../mod.ts";

/** Runs `body` with `tracker` active, restoring the previous one after. */
function withTracker<T>(tracker: MemoryTracker, body: () => T): T {
  const previous = setActiveTracker(tracker);
  try {
    return body();
  } finally {
    setActiveTracker(previous);
  }
}

Deno.test("tracker: live allocations by label, a report largest first, assertNoLeaks", () => {
  const tracker = new MemoryTracker();
  const host = new HostResource();
  withTracker(tracker, () => {
    const nodes = [1, 2, 3].map(() =>
      DeviceBuffer.allocate(1024, { resource: host, label: "bvh.nodes" })
    );
    const big = DeviceBuffer.allocate(1 << 20, { resource: host, label: "points" });
    const anonymous = DeviceBuffer.allocate(10, { resource: host });
    assert.deepEqual(tracker.liveByLabel("bvh.nodes"), { count: 3, bytes: 3072 });
    const report = tracker.report();
    assert.equal(report.count, 5);
    assert.equal(report.bytes, 3072 + (1 << 20) + 10);
    assert.deepEqual(report.rows.map((r) => r.label), ["points", "bvh.nodes", "(unlabelled)"]);
    assert.match(report.text, /5 live allocations, 1\.00 MiB/);
    assert.match(report.text, /3 × bvh\.nodes/);
    assert.throws(() => tracker.assertNoLeaks(), /memory leaked: 5 live allocations/);
    nodes.forEach((b) => b.free());
    big.free();
    anonymous.free();
    anonymous.free(); // a second free is not counted twice
    tracker.assertNoLeaks();
    assert.deepEqual(tracker.liveByLabel("bvh.nodes"), { count: 0, bytes: 0 });
  });
});

Deno.test("tracker: a scope reports what it allocated and left live", () => {
  const tracker = new MemoryTracker();
  const host = new HostResource();
  const reports: MemoryReport[] = [];
  withTracker(tracker, () => {
    const before = DeviceBuffer.allocate(64, { resource: host, label: "before" });
    let kept: DeviceBuffer;
    {
      using scope = tracker.scope("epoch", (report) => reports.push(report));
      DeviceBuffer.allocate(128, { resource: host, label: "temp" }).free();
      kept = DeviceBuffer.allocate(256, { resource: host, label: "epoch.leak" });
      assert.equal(scope.leaks().count, 1);
    }
    assert.equal(reports.length, 1);
    assert.deepEqual(reports[0].rows.map((r) => [r.label, r.count, r.bytes]), [[
      "epoch.leak",
      1,
      256,
    ]]);
    kept.free();
    before.free();
  });
});

Deno.test("tracker: sites point at the caller, on or sampled", () => {
  const host = new HostResource();
  const every = new MemoryTracker({ sites: "on" });
  withTracker(every, () => {
    const buffer = DeviceBuffer.allocate(8, { resource: host, label: "sited" });
    const [record] = every.live();
    assert.match(record.site ?? "", /tracker\.test\.ts/);
    assert.match(every.report().text, /at .*tracker\.test\.ts/);
    buffer.free();
  });
  const sampled = new MemoryTracker({ sites: { sample: 4 } });
  withTracker(sampled, () => {
    const buffers = Array.from({ length: 8 }, () => DeviceBuffer.allocate(8, { resource: host }));
    assert.equal(sampled.live().filter((a) => a.site !== undefined).length, 2);
    buffers.forEach((b) => b.free());
  });
  assert.throws(() => new MemoryTracker({ sites: { sample: 0 } }), InvalidArgumentError);
  assert.throws(() => new MemoryTracker({ sites: "sometimes" as never }), InvalidArgumentError);
  assert.throws(() => new MemoryTracker({ eventCapacity: -1 }), InvalidArgumentError);
});

Deno.test("tracker: the event log exports a trace that replays to the same peak", () => {
  const tracker = new MemoryTracker();
  tracker.startEventLog(64);
  const host = new HostResource();
  withTracker(tracker, () => {
    const a = DeviceBuffer.allocate(3000, { resource: host });
    const b = DeviceBuffer.allocate(5000, { resource: host });
    a.free();
    const c = DeviceBuffer.allocate(1000, { resource: host });
    b.free();
    c.free();
  });
  const trace = tracker.exportTrace("unit");
  assert.equal(trace.events.length, 6);
  assert.deepEqual(trace.events[0], ["a", trace.events[0][1], 3000, 0]);
  assert.equal(trace.peak_live, 8000);
  const replay = replayTrace(trace, {}, 1);
  assert.equal(replay.operations, 6);
  assert.equal(replay.peakLive, 8000);
  // A ring: the latest 3 of 4 events are f0, a1, f1; f0 frees what the window does not hold.
  const small = new MemoryTracker({ eventCapacity: 3 });
  withTracker(small, () => {
    for (let i = 0; i < 2; i++) DeviceBuffer.allocate(8 + i, { resource: host }).free();
  });
  assert.equal(small.eventCount, 4);
  const window = small.exportTrace();
  assert.deepEqual(window.events.map(([op, , size]) => [op, size]), [["a", 9], ["f", 0]]);
  assert.equal(window.peak_live, 9);
  small.stopEventLog();
  assert.equal(small.exportTrace().events.length, 0);
  assert.equal(new MemoryTracker().exportTrace().events.length, 0, "no log by default");
});

Deno.test("tracker: a buffer is counted by the tracker active when it was made, in the mode then", async () => {
  const host = new HostResource();
  const first = new MemoryTracker();
  const second = new MemoryTracker();
  const previous = setActiveTracker(first);
  try {
    // Counting waits for the end of the buffer's task, but no read and no switch may miss it.
    const early = DeviceBuffer.allocate(100, { resource: host, label: "early" });
    setActiveTracker(second);
    const late = DeviceBuffer.allocate(200, { resource: host, label: "late" });
    assert.deepEqual(first.liveByLabel("early"), { count: 1, bytes: 100 });
    assert.deepEqual(first.liveByLabel("late"), { count: 0, bytes: 0 });
    assert.deepEqual(second.liveByLabel("late"), { count: 1, bytes: 200 });
    // Sites turned on mid-task: what was made before has none, what comes after has one.
    const plain = DeviceBuffer.allocate(300, { resource: host, label: "plain" });
    second.sites = "on";
    const sited = DeviceBuffer.allocate(400, { resource: host, label: "sited" });
    const sites = new Map(second.live().map((a) => [a.label, a.site]));
    assert.equal(sites.get("plain"), undefined);
    assert.match(sites.get("sited") ?? "", /tracker\.test\.ts/);
    // Freed in a later task (after the nursery's sweep): uncounted from the tracker that counted.
    await Promise.resolve();
    for (const buffer of [early, late, plain, sited]) buffer.free();
    first.assertNoLeaks();
    second.assertNoLeaks();
    // Made and freed in one task: never counted, and nothing left.
    for (let i = 0; i < 3000; i++) {
      DeviceBuffer.allocate(64, { resource: host, label: "hot" }).free();
    }
    assert.deepEqual(second.liveByLabel("hot"), { count: 0, bytes: 0 });
    assert.equal(second.report().count, 0);
  } finally {
    setActiveTracker(previous);
  }
});
