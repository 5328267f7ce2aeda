/**
 * Generated allocation traces that stress the pool where the shared traces do not: many live
 * blocks of distinct large sizes freed in random order (graphs, varying shapes), the same with a
 * side stream, a GNN-like training loop over graphs of varying size, and LLM generation with a
 * growing KV cache (bench/kv_cache_trace.ts). Replays each with segments growing in place and
 * with fixed segments; prints peak reserved ÷ peak live, upstream calls and ns per operation.
 *
 *     deno run --allow-read --allow-ffi --allow-env --allow-sys bench/stress_traces.ts
 *
 * Deterministic (seeded), so a change to the pool shows as a change in these figures alone.
 *
 * @module
 */

import { replayTrace } from "../src/replay/trace.ts";
import type { Trace } from "../src/tracking/trace_format.ts";
import { traceRecorder } from "./trace_recorder.ts";
import { formatTable } from "../src/cli/table.ts";
import { kvCacheTrace } from "./kv_cache_trace.ts";

const MiB = 1 << 20;

/** `liveBlocks` blocks of 1–9 MiB live at once, churned in random order; `side` on stream 7. */
function manyLarge(liveBlocks: number, side: number): Trace {
  const t = traceRecorder(11);
  const held: number[] = [];
  for (let i = 0; i < 200_000; i++) {
    if (held.length < liveBlocks || t.random() < 0.5) {
      const bytes = (1 + t.random() * 8) * MiB;
      held.push(t.alloc(bytes, t.random() < side ? 7 : 0));
    } else t.free(held.splice(Math.floor(t.random() * held.length), 1)[0]);
  }
  return t.trace(`${liveBlocks} large live${side > 0 ? ", side stream" : ""}`);
}

/** A GNN's training steps over graphs of 2k–200k nodes: activations kept for backward. */
function gnnLike(): Trace {
  const t = traceRecorder(7);
  for (let w = 0; w < 40; w++) t.alloc(256 * 256 * 4);
  for (let step = 0; step < 400; step++) {
    const nodes = 2000 + Math.floor(t.random() * 200_000);
    const edges = nodes * (5 + Math.floor(t.random() * 20));
    const saved: number[] = [];
    for (let layer = 0; layer < 8; layer++) {
      saved.push(t.alloc(nodes * 256 * 4), t.alloc(edges * 64 * 4));
      const messages = t.alloc(edges * 256 * 4), index = t.alloc(edges * 8);
      t.free(messages);
      t.free(index);
      for (let k = 0; k < 20; k++) t.free(t.alloc(1024 + Math.floor(t.random() * 100_000)));
    }
    for (let layer = 7; layer >= 0; layer--) {
      t.free(t.alloc(nodes * 256 * 4));
      t.free(saved.pop()!);
      t.free(saved.pop()!);
    }
  }
  return t.trace("gnn-like");
}

const traces = [
  manyLarge(500, 0),
  manyLarge(5000, 0),
  manyLarge(500, 0.1),
  gnnLike(),
  kvCacheTrace({ events: 300_000 }),
];
const rows: string[][] = [];
for (const trace of traces) {
  for (const expandableSegments of [true, false]) {
    const result = replayTrace(trace, { expandableSegments }, 3);
    rows.push([
      trace.workload,
      expandableSegments ? "in place" : "fixed",
      String(result.operations),
      result.ratio.toFixed(3),
      `${(100 * result.hitRate).toFixed(2)}%`,
      String(result.upstreamCalls),
      result.nsPerOp.toFixed(0),
    ]);
  }
}
console.log(
  formatTable(["trace", "segments", "events", "ratio", "hit rate", "upstream", "ns/op"], rows),
);
