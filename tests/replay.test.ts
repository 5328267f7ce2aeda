/** Trace replay: the pool over address space only, on a synthetic trace and a real one. */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { MemoryPool, readTrace, replayTrace, type Trace } from "../mod.ts";
import { VirtualResource } from "../src/memory/virtual_resource.ts";
import { peakBreakdown } from "../src/replay/peak_breakdown.ts";

const MiB = 1 << 20;

Deno.test("replay: a synthetic trace gives the figures worked out by hand", () => {
  const trace: Trace = {
    workload: "synthetic",
    peak_live: 3 * MiB,
    events: [
      ["a", 0, MiB, 0], // small: one 2 MiB segment
      ["a", 1, MiB, 0], // fills it
      ["f", 0, 0, 0],
      ["a", 2, MiB, 0], // hit: reuses 0's block
      ["a", 3, MiB, 7], // another stream: a segment of its own
      ["f", 1, 0, 0],
      ["f", 2, 0, 0],
      ["f", 3, 0, 7],
    ],
  };
  for (const expandableSegments of [false, true]) {
    const result = replayTrace(trace, { expandableSegments }, 1);
    assert.equal(result.operations, 8);
    assert.equal(result.peakReserved, 4 * MiB);
    assert.equal(result.ratio, 4 / 3);
    // Growing in place: a range reserved and 2 MiB mapped per stream.
    assert.equal(result.upstreamCalls, expandableSegments ? 4 : 2);
    assert.equal(result.hitRate, 2 / 4);
    assert.ok(result.nsPerOp > 0);
  }
});

Deno.test("replay: a trace that frees what it never allocated is refused", () => {
  const trace: Trace = { workload: "bad", peak_live: 0, events: [["f", 9, 0, 0]] };
  assert.throws(() => replayTrace(trace, {}, 1), /frees 9, which is not live/);
});

const resnet = fileURLToPath(new URL("../../shared/traces/resnet.json.gz", import.meta.url));
const haveTraces = await Deno.stat(resnet).then(() => true, () => false);

Deno.test({
  name: haveTraces
    ? "replay: the ResNet trace replays leak-free with exact accounting"
    : "replay: the ResNet trace (ignored: ../shared/traces not found)",
  ignore: !haveTraces,
  async fn() {
    const trace = await readTrace(resnet);
    const result = replayTrace(trace, {}, 1);
    assert.equal(result.operations, trace.events.length);
    assert.ok(
      result.peakReserved >= trace.peak_live,
      "no allocator can reserve less than peak live",
    );
    assert.ok(result.hitRate > 0.95);
    // Segments growing in place keep reserved memory within 3% of peak live (PyTorch's default
    // allocator needs 1.199 × on this trace); fixed segments are the PyTorch-like baseline.
    assert.ok(result.ratio <= 1.03, `ratio ${result.ratio}`);
    const fixed = replayTrace(trace, { expandableSegments: false }, 1);
    assert.ok(fixed.ratio > result.ratio, `fixed ${fixed.ratio} vs ${result.ratio}`);
    // Freeing everything still live at the end leaves the cache, and freeCache empties it.
    const upstream = new VirtualResource();
    const pool = new MemoryPool(upstream);
    const live = new Map<number, ReturnType<MemoryPool["allocateBlock"]>>();
    for (const [op, id, size] of trace.events) {
      if (op === "a") live.set(id, pool.allocateBlock(size));
      else {
        pool.deallocateBlock(live.get(id)!);
        live.delete(id);
      }
    }
    for (const block of live.values()) pool.deallocateBlock(block);
    pool.freeCache();
    assert.equal(upstream.mappedBytes, 0);
    assert.equal(pool.stats().reservedBytes.current, 0);
    pool.close();
    assert.equal(upstream.reservedBytes, 0, "close gives the address ranges back");
  },
});

Deno.test("replay: the peak breakdown splits reserved bytes at the live peak, and what grew after", () => {
  const MiB = 1 << 20;
  const trace: Trace = {
    workload: "known",
    events: [
      ["a", 0, 3 * MiB, 0], // a 20 MiB medium segment
      ["f", 0, 0, 0],
      ["a", 1, 25 * MiB, 0], // a 26 MiB segment, its block unsplit (1 MiB over)
      ["f", 1, 0, 0],
      ["a", 2, 512, 0], // a small segment, after the live peak
    ],
    peak_live: 25 * MiB,
  };
  const fixed = peakBreakdown(trace, { expandableSegments: false });
  assert.equal(fixed.event, 2);
  assert.deepEqual(
    [fixed.reserved, fixed.requested, fixed.rounding, fixed.freeLarge, fixed.freeSmall],
    [46 * MiB, 25 * MiB, MiB, 20 * MiB, 0],
  );
  assert.equal(fixed.laterGrowth, 2 * MiB, "the small segment came after");
  assert.equal(fixed.peakReserved, 48 * MiB);
  for (const expandableSegments of [true, false]) {
    const b = peakBreakdown(trace, { expandableSegments });
    assert.equal(b.requested + b.rounding + b.freeSmall + b.freeLarge + b.pending, b.reserved);
    assert.equal(b.reserved + b.laterGrowth, b.peakReserved);
  }
});

const corpus = new URL("../bench/corpus/", import.meta.url);
const corpusTraces = [...Deno.readDirSync(corpus)]
  .filter((entry) => entry.name.endsWith(".json.gz"))
  .map((entry) => entry.name)
  .sort();

// The corpus of issue 18 (bench/corpus/record_corpus.py, recorded on an H200): eight workloads
// the pool was not designed on. Ratios are deterministic, so they are checked here; speed is
// the replay bench's.
for (const name of corpusTraces) {
  Deno.test(`replay corpus: ${name} stays within 1.03 × peak live and below PyTorch's expandable segments`, async () => {
    const trace = await readTrace(fileURLToPath(new URL(name, corpus)));
    const result = replayTrace(trace, {}, 1);
    assert.ok(result.peakReserved >= trace.peak_live);
    assert.ok(result.ratio <= 1.03, `ratio ${result.ratio.toFixed(4)}`);
    const torch = trace.torch_expandable!.max_reserved / trace.peak_live;
    assert.ok(result.ratio < torch, `${result.ratio.toFixed(4)} vs PyTorch's ${torch.toFixed(4)}`);
    // The target is 99% (bench/RESULTS.md); two_streams' cold start (92 allocations over 1 MiB
    // each setting a new live peak in 3447) holds it at 98.7%.
    assert.ok(result.hitRate >= 0.985, `hit rate ${result.hitRate}`);
  });
}
