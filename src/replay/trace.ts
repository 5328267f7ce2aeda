/**
 * Allocation traces in the format of shared/traces (PyTorch's memory history, reduced): reading
 * them, and replaying them through a MemoryPool.
 *
 * @module
 */

import { cpuDevice } from "../device/cpu_device.ts";
import { Stream } from "../cuda/stream.ts";
import { GpumemError, InvalidArgumentError } from "../errors.ts";
import type { Block } from "../memory/pool/block.ts";
import { MemoryPool, type MemoryPoolOptions } from "../memory/pool/memory_pool.ts";
import { hitRate } from "../memory/pool/pool_stats.ts";
import { VirtualResource } from "../memory/virtual_resource.ts";
import type { Trace } from "../tracking/trace_format.ts";

export type { TorchFigures, Trace, TraceEvent } from "../tracking/trace_format.ts";

/** Reads a trace file (`.json` or gzip'd `.json.gz`). Needs read permission for the path. */
export async function readTrace(path: string): Promise<Trace> {
  const file = await Deno.open(path);
  const stream = path.endsWith(".gz")
    ? file.readable.pipeThrough(new DecompressionStream("gzip"))
    : file.readable;
  let trace: Trace;
  try {
    trace = JSON.parse(await new Response(stream).text()) as Trace;
  } catch (error) {
    throw new GpumemError(`${path} is not an allocation trace (not JSON)`, { cause: error });
  }
  if (!Array.isArray(trace?.events) || typeof trace.peak_live !== "number") {
    throw new GpumemError(`${path} is not an allocation trace (events and peak_live expected)`);
  }
  return trace;
}

/** What a replay measured. */
export interface ReplayResult {
  /** The trace's workload name. */
  workload: string;
  /** Allocate and free events replayed. */
  operations: number;
  /** The pool's peak reserved bytes. */
  peakReserved: number;
  /** The trace's peak live bytes (the floor for any allocator). */
  peakLive: number;
  /** peakReserved ÷ peakLive. */
  ratio: number;
  /** Cache hits ÷ allocations. */
  hitRate: number;
  /** Calls to the upstream (segment allocations and frees). */
  upstreamCalls: number;
  /** Mean nanoseconds per replayed event (pool work only; the best of `repeats` runs). */
  nsPerOp: number;
}

/**
 * Replays `trace` through a fresh MemoryPool over a VirtualResource (address space only), one
 * Stream per trace stream, `repeats` times; reports the last run's figures and the fastest time.
 */
export function replayTrace(
  trace: Trace,
  options: MemoryPoolOptions = {},
  repeats = 3,
): ReplayResult {
  checkTrace(trace);
  let best = Infinity;
  let result: Omit<ReplayResult, "nsPerOp"> | undefined;
  for (let run = 0; run < repeats; run++) {
    const pool = new MemoryPool(new VirtualResource(), options);
    const streams = new TraceStreams();
    for (const [, , , handle] of trace.events) streams.of(handle); // made before the clock starts
    const live = new Map<number, Block>();
    const events = trace.events;
    const start = performance.now();
    replayEvents(trace, pool, streams, live, events.length, true);
    best = Math.min(best, ((performance.now() - start) * 1e6) / events.length);
    const stats = pool.stats();
    result = {
      workload: trace.workload,
      operations: events.length,
      peakReserved: stats.reservedBytes.peak,
      peakLive: trace.peak_live,
      ratio: stats.reservedBytes.peak / trace.peak_live,
      hitRate: hitRate(stats),
      upstreamCalls: stats.upstreamCalls,
    };
    streams.close();
  }
  return { ...result!, nsPerOp: best };
}

/** One pool Stream per stream handle of a trace (0: the legacy default stream), made on first use. */
export class TraceStreams {
  readonly #streams = new Map<number, Stream | undefined>();

  /** The Stream replaying `handle`'s work. */
  of(handle: number): Stream | undefined {
    if (!this.#streams.has(handle)) {
      this.#streams.set(handle, handle === 0 ? undefined : new Stream(cpuDevice));
    }
    return this.#streams.get(handle);
  }

  /** Closes every Stream made. */
  close(): void {
    for (const stream of this.#streams.values()) stream?.close();
  }
}

/**
 * Replays events [0, end) of `trace` into `pool` on `streams`, `live` holding the blocks not
 * freed yet. A free of an allocation not live throws when `strict`, else is skipped.
 */
export function replayEvents(
  trace: Trace,
  pool: MemoryPool,
  streams: TraceStreams,
  live: Map<number, Block>,
  end: number,
  strict: boolean,
): void {
  const events = trace.events;
  for (let i = 0; i < end && i < events.length; i++) {
    const [op, id, size, handle] = events[i];
    if (op === "a") live.set(id, pool.allocateBlock(size, streams.of(handle)));
    else {
      const block = live.get(id);
      if (block === undefined) {
        if (strict) throw new GpumemError(`trace frees ${id}, which is not live`);
        continue;
      }
      live.delete(id);
      pool.deallocateBlock(block, streams.of(handle));
    }
  }
}

/** Rejects what is no trace: events must be ["a" | "f", id, bytes, stream] rows. */
function checkTrace(trace: Trace): void {
  const events = (trace as Partial<Trace> | null)?.events;
  if (!Array.isArray(events)) {
    throw new InvalidArgumentError("trace", "a Trace with an events array", trace);
  }
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as unknown[];
    const ok = Array.isArray(e) && (e[0] === "a" || e[0] === "f") && Number.isSafeInteger(e[1]) &&
      Number.isSafeInteger(e[2]) && (e[2] as number) >= 0 && Number.isSafeInteger(e[3]);
    if (!ok) {
      throw new InvalidArgumentError(`trace.events[${i}]`, '["a" | "f", id, bytes, stream]', e);
    }
  }
}
