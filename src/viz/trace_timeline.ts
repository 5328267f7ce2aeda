/**
 * A trace (the format of shared/traces: PyTorch's allocations, or gpumem's exported event log)
 * replayed through gpumem's pool into a timeline, so the viewer shows each allocation at the
 * address gpumem gave it, the pool's reservations, and PyTorch's own figures beside gpumem's.
 *
 * @module
 */

import { formatBytes } from "../errors.ts";
import { MemoryPool } from "../memory/pool/memory_pool.ts";
import { hitRate } from "../memory/pool/pool_stats.ts";
import { VirtualResource } from "../memory/virtual_resource.ts";
import { TraceStreams } from "../replay/trace.ts";
import { setActiveTracker } from "../tracking/active_tracker.ts";
import type { Timeline } from "../tracking/timeline.ts";
import { MemoryTracker } from "../tracking/memory_tracker.ts";
import type { Trace } from "../tracking/trace_format.ts";
import type { LabelEntry, TrackerNode } from "../tracking/tracker_node.ts";
import type { Figure, ReferenceLine } from "./viewer_model.ts";

const MiB = 2 ** 20;

/** Traces carry no labels: allocations are grouped by lifetime and size class instead. */
function sizeClass(bytes: number, persistent: boolean): string {
  if (persistent) return "live to the end";
  if (bytes >= 1024 * MiB) return "≥ 1 GiB";
  if (bytes >= 100 * MiB) return "100 MiB – 1 GiB";
  if (bytes >= 10 * MiB) return "10 – 100 MiB";
  if (bytes >= MiB) return "1 – 10 MiB";
  return "< 1 MiB";
}

/** A tracker node for one replayed allocation (the tracker's protocol, no buffer behind it). */
class ReplayNode implements TrackerNode {
  trackId = -1;
  trackSite: string | undefined = undefined;
  trackTime = 0;
  trackEntry: LabelEntry | null = null;
  constructor(
    readonly byteLength: number,
    readonly trackStream: number,
    readonly trackAddress: bigint,
  ) {}
}

/** What a replay gives the viewer. */
export interface ReplayedTimeline {
  /** The events, gpumem's reservations among them. */
  timeline: Timeline;
  /** gpumem's and PyTorch's figures. */
  figures: Figure[];
  /** PyTorch's peak reserved bytes (default and expandable), when the trace has them. */
  references: ReferenceLine[];
}

/**
 * Replays `trace` through a MemoryPool over a virtual upstream (segments growing in place unless
 * `expandableSegments` is false), logging every allocation, free and reservation.
 */
export function timelineFromTrace(trace: Trace, expandableSegments = true): ReplayedTimeline {
  const freed = new Set<number>();
  for (const [op, id] of trace.events) if (op === "f") freed.add(id);
  const tracker = new MemoryTracker({ eventCapacity: Math.max(1, 3 * trace.events.length) });
  const pool = new MemoryPool(new VirtualResource(), { name: "gpumem", expandableSegments });
  const live = new Map<
    number,
    { node: ReplayNode; block: ReturnType<MemoryPool["allocateBlock"]> }
  >();
  // One pool stream per trace stream, as replayTrace has, so the figures agree with it.
  const streams = new TraceStreams();
  const previous = setActiveTracker(tracker);
  try {
    for (const [op, id, size, stream] of trace.events) {
      if (op === "a") {
        const block = pool.allocateBlock(size, streams.of(stream));
        const node = new ReplayNode(size, stream, block.address);
        tracker.track(node, "trace", sizeClass(size, !freed.has(id)));
        live.set(id, { node, block });
      } else {
        const entry = live.get(id);
        if (entry === undefined) continue;
        live.delete(id);
        MemoryTracker.untrackNode(entry.node);
        pool.deallocateBlock(entry.block, streams.of(stream));
      }
    }
  } finally {
    setActiveTracker(previous);
  }
  const stats = pool.stats();
  for (const { block } of live.values()) pool.deallocateBlock(block);
  pool.close();
  streams.close();
  const ratio = (bytes: number) => (bytes / trace.peak_live).toFixed(3);
  const figures: Figure[] = [
    ["peak live", formatBytes(trace.peak_live)],
    ["gpumem peak reserved ÷ peak live", ratio(stats.reservedBytes.peak)],
    [
      "gpumem hit rate",
      `${(100 * hitRate(stats)).toFixed(2)}%`,
    ],
    ["gpumem upstream calls", String(stats.upstreamCalls)],
  ];
  const references: ReferenceLine[] = [];
  if (trace.torch !== undefined) {
    figures.push(["PyTorch default ÷ peak live", ratio(trace.torch.max_reserved)]);
    references.push({ name: "PyTorch reserved (default)", bytes: trace.torch.max_reserved });
  }
  if (trace.torch_expandable !== undefined) {
    figures.push(["PyTorch expandable ÷ peak live", ratio(trace.torch_expandable.max_reserved)]);
    references.push({
      name: "PyTorch reserved (expandable)",
      bytes: trace.torch_expandable.max_reserved,
    });
  }
  return { timeline: tracker.timeline()!, figures, references };
}
