/**
 * Where the viewer's models come from: a gpumem snapshot (its event log, or, without one, the
 * moment it was taken), an allocation trace (replayed through gpumem's pool), or a PyTorch
 * snapshot (torch.cuda.memory._dump_snapshot; its allocations replayed through gpumem's pool
 * beside it). `readViewerModel` tells them apart by content.
 *
 * @module
 */

import { formatBytes, GpumemError } from "../errors.ts";
import { isSnapshot, type MemorySnapshot, type PoolSnapshot } from "../snapshot/snapshot_format.ts";
import type { Trace } from "../tracking/trace_format.ts";
import { hitRate } from "../memory/pool/pool_stats.ts";
import { isPickle, readPickle } from "./pickle.ts";
import { snapshotTimeline } from "./snapshot_timeline.ts";
import { timelineFromTorchSnapshot } from "./torch_snapshot.ts";
import { withGpumemReplay } from "./replay_beside.ts";
import { timelineFromTrace } from "./trace_timeline.ts";
import { type Figure, modelFromTimeline, type ViewerModel } from "./viewer_model.ts";

/** The pool's figures a person asks for first. */
function poolFigures(pool: PoolSnapshot): Figure[] {
  const s = pool.stats;
  const hits = hitRate(s);
  return [
    [`${pool.name}: peak allocated`, formatBytes(s.allocatedBytes.peak)],
    [
      "peak reserved ÷ peak allocated",
      (s.reservedBytes.peak / Math.max(1, s.allocatedBytes.peak)).toFixed(3),
    ],
    ["hit rate", `${(100 * hits).toFixed(2)}%`],
    ["upstream calls", String(s.upstreamCalls)],
    ["fragmentation now", `${(100 * s.fragmentation).toFixed(1)}%`],
  ];
}

/** The viewer model of a gpumem snapshot: its event log when it has one, else its moment. */
export function modelFromSnapshot(snapshot: MemorySnapshot, source: string): ViewerModel {
  const pool = snapshot.pools[0];
  const timeline = snapshotTimeline(snapshot);
  const dropped = timeline.dropped > 0
    ? ` (the log's ${timeline.dropped} oldest events dropped)`
    : "";
  return modelFromTimeline(timeline, {
    title: `gpumem snapshot, ${snapshot.taken}`,
    source: `${source}${
      snapshot.timeline === null ? " (no event log: the moment it was taken)" : dropped
    }`,
    limit: pool?.limit ?? null,
    figures: pool === undefined ? [] : poolFigures(pool),
  });
}

/** The viewer model of an allocation trace, replayed through gpumem's pool. */
export function modelFromTrace(trace: Trace, source: string): ViewerModel {
  const { timeline, figures, references } = timelineFromTrace(trace);
  return modelFromTimeline(timeline, {
    title: `${trace.workload}: replayed through gpumem`,
    source,
    figures,
    references,
  });
}

function isTrace(value: unknown): value is Trace {
  const t = value as Partial<Trace> | null;
  return typeof t === "object" && t !== null && Array.isArray(t.events) &&
    typeof t.peak_live === "number";
}

/**
 * Reads a file the viewer shows: a gpumem snapshot (.json), an allocation trace (.json or
 * .json.gz, the format of shared/traces and of `tracker.exportTrace()`), or a PyTorch snapshot
 * pickle. GpumemError for anything else.
 */
export async function readViewerModel(path: string): Promise<ViewerModel> {
  try {
    return await modelOfFile(path);
  } catch (error) {
    // A file of the right kind whose insides are not (a field missing, a wrong type) ends here.
    if (error instanceof GpumemError || error instanceof Deno.errors.NotFound) throw error;
    throw new GpumemError(`${path}: malformed (${(error as Error)?.message ?? error})`, {
      cause: error,
    });
  }
}

async function modelOfFile(path: string): Promise<ViewerModel> {
  let bytes = await Deno.readFile(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  }
  const name = path.split("/").pop() ?? path;
  if (isPickle(bytes)) {
    const torch = timelineFromTorchSnapshot(readPickle(bytes));
    const beside = withGpumemReplay(torch.timeline);
    return modelFromTimeline(beside.timeline, {
      title: `PyTorch snapshot ${name}, gpumem's pool beside it`,
      source: path,
      figures: [...torch.figures, ...beside.figures],
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new GpumemError(`${path}: neither JSON nor a pickle`, { cause: error });
  }
  if (isSnapshot(value)) return modelFromSnapshot(value, path);
  if (isTrace(value)) return modelFromTrace(value, path);
  throw new GpumemError(
    `${path}: not a gpumem snapshot, an allocation trace or a PyTorch snapshot`,
  );
}
