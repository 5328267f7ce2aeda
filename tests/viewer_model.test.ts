/** The viewer's inputs: the pickle reader, PyTorch snapshots, traces, gpumem snapshots. */

import assert from "node:assert/strict";
import {
  cpuDevice,
  DeviceBuffer,
  formatBytes,
  GpumemError,
  MemoryManager,
  MemoryTracker,
  setActiveTracker,
} from "../mod.ts";
import { DevicePools } from "../src/memory/default_resources.ts";
import { readTrace, replayTrace } from "../src/replay/trace.ts";
import { readPickle } from "../src/viz/pickle.ts";
import { timelineFromTorchSnapshot } from "../src/viz/torch_snapshot.ts";
import { BEFORE_THE_LOG, peakLive } from "../src/viz/viewer_model.ts";
import { modelFromSnapshot, modelFromTrace, readViewerModel } from "../src/viz/viewer_sources.ts";
import { renderViewerPage } from "../src/viz/viewer_page.ts";
import { prepare } from "../src/viz/viewer_columns.ts";
import { segmentLayout } from "../src/viz/viewer_segments.ts";
import type { Trace } from "../src/tracking/trace_format.ts";

const MiB = 1 << 20;
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

Deno.test("pickle: the plain-data subset of protocols 2, 4 and 5 reads the same", async () => {
  const values = await Promise.all(
    [2, 4, 5].map(async (p) =>
      readPickle(await Deno.readFile(fixture(`torch_snapshot_p${p}.pickle`)))
    ),
  );
  const settings =
    (values[1] as { allocator_settings: Record<string, unknown> }).allocator_settings;
  assert.equal(settings.roundup, 2 ** 40 + 12345, "a LONG1 integer");
  assert.equal(settings.ratio, 0.5, "a BINFLOAT");
  assert.equal(settings.expandable_segments, true);
  assert.deepEqual(settings.bytes, Uint8Array.of(0, 1));
  assert.deepEqual(values[2], values[1]);
  delete settings.bytes; // protocol 2 has no bytes (they pickle through a function call there)
  assert.deepEqual(values[0], values[1]);
});

Deno.test("pickle: a file that would run code, or a broken one, is a typed error", async () => {
  const runsCode = await Deno.readFile(fixture("runs_code.pickle"));
  assert.throws(
    () => readPickle(runsCode),
    (e) => e instanceof GpumemError && /opcode/.test(e.message),
  );
  const whole = await Deno.readFile(fixture("torch_snapshot_p4.pickle"));
  for (const cut of [3, 100, whole.length - 1]) {
    assert.throws(() => readPickle(whole.subarray(0, cut)), GpumemError, `cut at ${cut}`);
  }
  assert.throws(
    () => readPickle(Uint8Array.of(0x80, 4, 0x68, 9, 0x2e)),
    GpumemError,
    "memo never stored",
  );
  assert.throws(
    () => readPickle(Uint8Array.of(0x80, 4, 0x2e)),
    GpumemError,
    "stop on an empty stack",
  );
});

// A snapshot PyTorch itself wrote: torch.cuda.memory._dump_snapshot on an H200 (PyTorch
// 2.11.0+cu130), the two_streams workload of bench/corpus/record_corpus.py at --scale 0.1. The
// expected figures were read from the same file with Python's pickle module: 355 alloc and 330
// free_completed entries on two streams, peak live 374,022,216 B, 25 segments of 423,624,704 B.
Deno.test("torch snapshot: a recording PyTorch wrote on a GPU reads as Python's pickle reads it", async () => {
  const value = readPickle(await Deno.readFile(fixture("torch_snapshot_h200.pickle")));
  const { timeline, figures } = timelineFromTorchSnapshot(value);
  assert.equal(timeline.op.filter((op) => op === 0).length, 355);
  assert.equal(timeline.op.filter((op) => op === 1).length, 330);
  const figure = Object.fromEntries(figures);
  assert.equal(figure["peak live"], formatBytes(374_022_216));
  assert.equal(figure["PyTorch peak reserved"], formatBytes(423_624_704));
  assert.equal(figure["out-of-memory events"], "0");
  const model = await readViewerModel(fixture("torch_snapshot_h200.pickle"));
  assert.equal(peakLive(model).bytes, 374_022_216);
  assert.deepEqual(model.pools, ["torch cuda:0", "gpumem (replayed)"]);
  // The segment map at the peak: PyTorch's ranges hold every live byte, and add up to what
  // PyTorch reserved; the free bytes are the rest.
  const prep = prepare(model);
  const layout = segmentLayout(model, prep, prep.peakAt, 0);
  assert.equal(layout.total, 423_624_704);
  assert.equal(layout.allocated, 374_022_216);
  assert.equal(layout.free, layout.total - layout.allocated);
  assert.ok(layout.largestFree > 0 && layout.largestFree <= layout.free);
  assert.ok(layout.blocks.every(([from, to]: number[]) => from < to && to <= layout.total));
});

Deno.test("torch snapshot: allocations, frees, segments, maps and the OOM of the fixture", async () => {
  const value = readPickle(await Deno.readFile(fixture("torch_snapshot_p4.pickle")));
  const { timeline, figures } = timelineFromTorchSnapshot(value);
  // 1 weight from before the recording + 15 activations + 1 KV block.
  assert.equal(timeline.op.filter((op) => op === 0).length, 17);
  assert.equal(timeline.op.filter((op) => op === 1).length, 16);
  assert.ok(timeline.labels.includes("build_model (train.py:12)"), timeline.labels.join());
  assert.ok(timeline.labels.includes("layer2 (train.py:43)"));
  assert.ok(
    !timeline.labels.some((label) => label.startsWith("forward")),
    "torch's frames are skipped",
  );
  const figure = Object.fromEntries(figures);
  assert.equal(figure["out-of-memory events"], "1");
  assert.equal(figure["peak live"], "56.00 MiB"); // weights 8 + 16 + 8 + 24
  assert.equal(figure["PyTorch peak reserved"], "104.00 MiB"); // 20 + 64 + 20 mapped
  assert.ok(timeline.time !== null && timeline.time.every((t) => t >= 0));
  assert.throws(() => timelineFromTorchSnapshot({ segments: [] }), GpumemError);
  const model = await readViewerModel(fixture("torch_snapshot_p5.pickle"));
  assert.equal(peakLive(model).bytes, 56 * MiB);
  // gpumem's pool replays the same requests beside PyTorch's: its own reserved line.
  const replayed = model.pools.indexOf("gpumem (replayed)");
  assert.ok(replayed >= 0, model.pools.join());
  let reserved = 0, peak = 0;
  model.reservations.pool.forEach((pool, i) => {
    if (pool !== replayed) return;
    reserved += model.reservations.delta[i];
    peak = Math.max(peak, reserved);
  });
  assert.equal(peak, 56 * MiB, "in place, gpumem reserves what peaks live here");
  assert.ok(
    model.figures.some(([name, value]) =>
      /gpumem replay: peak reserved$/.test(name) && value === "56.00 MiB"
    ),
  );
  assert.equal(model.marks.filter((mark) => mark.kind === "oom").length, 1);
});

Deno.test("trace: the viewer's replay reserves what replayTrace reports", async () => {
  let trace: Trace;
  try {
    trace = await readTrace("../shared/traces/resnet.json.gz");
  } catch {
    // Without ../shared: a generated trace with two streams.
    const events: Trace["events"] = [];
    for (let i = 0; i < 2000; i++) {
      events.push(["a", i, ((i * 7919) % 97 + 1) * 512 * 1024, i % 3 === 0 ? 7 : 0]);
      if (i >= 5) events.push(["f", i - 5, 0, (i - 5) % 3 === 0 ? 7 : 0]);
    }
    trace = { workload: "generated", events, peak_live: 0 };
  }
  const model = modelFromTrace(trace, "test");
  const direct = replayTrace(trace, {}, 1);
  let reserved = 0, peak = 0;
  for (const delta of model.reservations.delta) {
    reserved += delta;
    peak = Math.max(peak, reserved);
  }
  assert.equal(peak, direct.peakReserved, "the same pool policy, the same peak");
  const live = peakLive(model).bytes;
  if (trace.peak_live > 0) assert.equal(live, trace.peak_live);
  assert.equal(model.allocations.start.length, trace.events.filter((e) => e[0] === "a").length);
  for (let i = 0; i < model.allocations.start.length; i++) {
    assert.ok(model.allocations.address[i] > 0, "every replayed allocation has an address");
  }
  const page = await renderViewerPage(model);
  assert.ok(
    !/<script[^>]+src=|<link[^>]+href=|https?:\/\//.test(page),
    "nothing loaded from outside",
  );
});

Deno.test("viewer sources: a file that is none of the three is a typed error", async () => {
  const path = await Deno.makeTempFile({ dir: "build", suffix: ".json" });
  try {
    await Deno.writeTextFile(path, '{"hello": 1}');
    await assert.rejects(readViewerModel(path), GpumemError);
    await Deno.writeTextFile(path, "not json");
    await assert.rejects(readViewerModel(path), GpumemError);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("snapshot timeline: what was there before the log began is put in front of it", () => {
  const tracker = new MemoryTracker();
  const manager = new MemoryManager(tracker, new DevicePools());
  const pool = manager.pool(cpuDevice);
  const previous = setActiveTracker(tracker);
  try {
    const kept = DeviceBuffer.allocate(3 * MiB, { resource: pool, label: "kept" });
    const early = DeviceBuffer.allocate(2 * MiB, { resource: pool, label: "early" });
    const reservedBefore = pool.stats().reservedBytes.current;
    tracker.startEventLog(1000);
    const late = DeviceBuffer.allocate(40 * MiB, { resource: pool, label: "late" });
    early.free();
    const snapshot = manager.snapshot();
    const model = modelFromSnapshot(snapshot, "test");
    const logStart = model.events - snapshot.timeline!.op.length; // the prefix comes first
    late.free();
    kept.free();
    const poolIndex = model.pools.indexOf(pool.name);
    let initial = 0;
    for (let i = 0; i < model.reservations.at.length; i++) {
      if (model.reservations.pool[i] === poolIndex && model.reservations.at[i] < logStart) {
        initial += model.reservations.delta[i];
      }
    }
    assert.equal(initial, reservedBefore, "the pool's reserved bytes when the log started");
    const byLabel = (label: string) => {
      const a = model.allocations;
      const i = Array.from(a.label).findIndex((l) => model.labels[l] === label);
      return i < 0 ? undefined : { start: a.start[i], end: a.end[i], size: a.size[i] };
    };
    assert.equal(byLabel("kept")?.end, model.events, "live through the whole log");
    assert.equal(byLabel(BEFORE_THE_LOG)?.size, 2 * MiB, "freed in the log, allocated before it");
    assert.equal(byLabel("late")?.size, 40 * MiB);
    assert.equal(peakLive(model).bytes, 45 * MiB);
  } finally {
    setActiveTracker(previous);
    pool.close();
  }
});

Deno.test("viewer sources: a snapshot or PyTorch pickle of the right kind but malformed inside is a typed error", async () => {
  const path = await Deno.makeTempFile({ dir: "build", suffix: ".json" });
  try {
    const malformed = {
      format: "gpumem-snapshot",
      version: 1,
      taken: "",
      now: 0,
      devices: [],
      pools: [{ name: "p", segments: [{ address: "not hex", blocks: [{}] }] }],
      pinnedPools: [],
      live: [],
      timeline: null,
    };
    await Deno.writeTextFile(path, JSON.stringify(malformed));
    await assert.rejects(readViewerModel(path), GpumemError);
    // A pickle of a dict whose device_traces hold garbage.
    await Deno.writeFile(
      path,
      Uint8Array.of(
        0x80,
        4,
        0x7d,
        0x8c,
        13,
        ...new TextEncoder().encode("device_traces"),
        0x4b,
        7,
        0x73,
        0x2e,
      ),
    );
    await assert.rejects(readViewerModel(path), GpumemError);
  } finally {
    await Deno.remove(path);
  }
});
