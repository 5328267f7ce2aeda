/**
 * A generated allocation trace of LLM generation with a growing KV cache (the naive kind: each
 * token's step allocates every layer's keys and values one token longer and frees the old ones),
 * with varying prompt lengths and batch sizes, in the format of shared/traces. Deterministic for
 * a seed. The viewer's render benchmark uses it at 1.5 million events.
 *
 * @module
 */

import type { Trace } from "../src/tracking/trace_format.ts";
import { traceRecorder } from "./trace_recorder.ts";

/** Options for {@linkcode kvCacheTrace}. */
export interface KvCacheTraceOptions {
  /** Events to stop at (about; default 1.5M). */
  events?: number;
  /** Transformer layers (default 24). */
  layers?: number;
  /** Seed for prompt lengths and batch sizes (default 1). */
  seed?: number;
}

/** The trace; see the module doc. */
export function kvCacheTrace(options: KvCacheTraceOptions = {}): Trace {
  const target = options.events ?? 1_500_000;
  const layers = options.layers ?? 24;
  const recorder = traceRecorder(options.seed ?? 1);
  const { random, alloc, free } = recorder;
  const hidden = 4096, perTokenKv = 2 * 1024 * 2; // 1024 = heads × head dim in kv; 2 B each
  const weights = Array.from({ length: layers }, () => alloc(4 * hidden * hidden * 2));
  while (recorder.length < target) {
    const batch = 1 + Math.floor(random() * 8);
    const prompt = 64 + Math.floor(random() * 960);
    const generate = 64 + Math.floor(random() * 192);
    const keys: number[] = [], values: number[] = [];
    for (let layer = 0; layer < layers; layer++) {
      keys.push(alloc(batch * prompt * perTokenKv));
      values.push(alloc(batch * prompt * perTokenKv));
    }
    for (let t = 1; t <= generate && recorder.length < target; t++) {
      const length = prompt + t;
      for (let layer = 0; layer < layers; layer++) {
        const attention = alloc(batch * 32 * length * 2);
        const mlp = alloc(batch * 4 * hidden * 2);
        const k = alloc(batch * length * perTokenKv), v = alloc(batch * length * perTokenKv);
        free(keys[layer]);
        free(values[layer]);
        keys[layer] = k;
        values[layer] = v;
        free(attention);
        free(mlp);
      }
      const logits = alloc(batch * 32000 * 4);
      free(logits);
    }
    for (let layer = 0; layer < layers; layer++) {
      free(keys[layer]);
      free(values[layer]);
    }
  }
  void weights; // live to the end, as a model's weights are
  return recorder.trace("kv-cache generation");
}
