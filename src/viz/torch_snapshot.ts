/**
 * PyTorch's memory snapshot (`torch.cuda.memory._snapshot()`, written by `_dump_snapshot` as a
 * pickle) as a timeline: `device_traces` gives the allocations (alloc / free_completed, with
 * addresses and stack frames), the segments (segment_alloc / segment_free, and the map / unmap of
 * expandable segments) and the out-of-memory events; `segments` gives what was live before the
 * recording began. Allocations are labelled by the first stack frame outside torch itself.
 *
 * @module
 */

import { formatBytes, GpumemError } from "../errors.ts";
import { EventOp, type Timeline, TimelineBuilder } from "../tracking/timeline.ts";
import type { PickleValue } from "./pickle.ts";
import type { Figure } from "./viewer_model.ts";

type Dict = { [key: string]: PickleValue };

function isDict(value: PickleValue | undefined): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array) && !(value instanceof Map);
}

function num(value: PickleValue | undefined): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return 0;
}

/** Frames from PyTorch's own files say where torch allocated, not whose code asked it to. */
function isTorchFrame(filename: string): boolean {
  return /[/\\]torch[/\\]|^<|[/\\]site-packages[/\\]|[/\\]dist-packages[/\\]/.test(filename) ||
    filename === "??";
}

function framesOf(entry: Dict): Dict[] {
  const frames = entry.frames;
  return Array.isArray(frames) ? frames.filter(isDict) : [];
}

function labelOf(frames: Dict[]): string {
  const user = frames.find((f) => !isTorchFrame(String(f.filename ?? "")));
  if (user === undefined) return frames.length === 0 ? "(no stack recorded)" : "(inside torch)";
  const file = String(user.filename ?? "").split(/[/\\]/).pop();
  return `${String(user.name ?? "?")} (${file}:${num(user.line)})`;
}

/** The stack from the first frame outside torch (the caller's code first, as the label). */
function siteOf(frames: Dict[]): string | undefined {
  if (frames.length === 0) return undefined;
  const user = frames.findIndex((f) => !isTorchFrame(String(f.filename ?? "")));
  return frames.slice(Math.max(0, user), Math.max(0, user) + 12).map((f) =>
    `${String(f.name ?? "?")} ${String(f.filename ?? "?")}:${num(f.line)}`
  ).join("\n");
}

/** The timeline of a PyTorch snapshot's busiest device, and the figures it allows. */
export function timelineFromTorchSnapshot(
  snapshot: PickleValue,
): { timeline: Timeline; figures: Figure[] } {
  if (!isDict(snapshot) || !Array.isArray(snapshot.device_traces)) {
    throw new GpumemError(
      "not a PyTorch memory snapshot (a dict with device_traces expected: record it with " +
        "torch.cuda.memory._record_memory_history() before _dump_snapshot)",
    );
  }
  const traces = snapshot.device_traces.map((trace) => Array.isArray(trace) ? trace : []);
  let device = 0;
  traces.forEach((trace, i) => {
    if (trace.length > traces[device].length) device = i;
  });
  const entries = (traces[device] ?? []).filter(isDict);
  const segments = (Array.isArray(snapshot.segments) ? snapshot.segments : []).filter(isDict)
    .filter((segment) => num(segment.device) === device);

  const t = new TimelineBuilder(entries.some((e) => "time_us" in e), {
    pools: [`torch cuda:${device}`],
  });
  let nextId = 0;
  const liveIds = new Map<number, number>();
  const push = (op: number, id: number, size: number, address: number, time: number) =>
    t.push({ op, id, size, address, time });
  const allocate = (address: number, size: number, frames: Dict[], time: number) => {
    const id = nextId++;
    liveIds.set(address, id);
    t.push({
      op: EventOp.allocate,
      id,
      size,
      address,
      time,
      label: t.labels.indexOf(labelOf(frames)),
      site: t.sites.indexOf(siteOf(frames)),
    });
  };

  // What existed before the recording: segments never allocated in the trace, blocks allocated
  // at the end but not in the trace, and blocks the trace frees without having allocated.
  const tracedSegments = new Set<number>(), tracedAllocs = new Set<number>();
  const preexisting: { address: number; size: number; frames: Dict[] }[] = [];
  for (const e of entries) {
    const address = num(e.addr);
    if (e.action === "segment_alloc" || e.action === "segment_map") tracedSegments.add(address);
    else if (e.action === "alloc") tracedAllocs.add(address);
    else if (e.action === "free_completed" && !tracedAllocs.has(address)) {
      preexisting.push({ address, size: num(e.size), frames: framesOf(e) });
      tracedAllocs.add(address);
    }
  }
  const t0 = !entries.some((e) => "time_us" in e)
    ? 0
    : num(entries.find((e) => "time_us" in e)?.time_us) / 1000;
  for (const segment of segments) {
    const address = num(segment.address);
    if (!tracedSegments.has(address)) {
      push(EventOp.reserve, 0, num(segment.total_size), address, t0);
    }
    for (const block of Array.isArray(segment.blocks) ? segment.blocks.filter(isDict) : []) {
      const at = num(block.address);
      if (block.state === "active_allocated" && !tracedAllocs.has(at)) {
        preexisting.push({ address: at, size: num(block.size), frames: framesOf(block) });
      }
    }
  }
  for (const block of preexisting) allocate(block.address, block.size, block.frames, t0);

  let ooms = 0;
  for (const e of entries) {
    const address = num(e.addr), size = num(e.size);
    const time = num(e.time_us) / 1000;
    switch (e.action) {
      case "alloc":
        allocate(address, size, framesOf(e), time);
        break;
      case "free_completed": {
        const id = liveIds.get(address);
        if (id !== undefined) {
          liveIds.delete(address);
          push(EventOp.free, id, size, address, time);
        }
        break;
      }
      case "segment_alloc":
      case "segment_map":
        push(EventOp.reserve, 0, size, address, time);
        break;
      case "segment_free":
      case "segment_unmap":
        push(EventOp.release, 0, size, address, time);
        break;
      case "oom":
        ooms++;
        push(EventOp.outOfMemory, 0, size, 0, time);
        break;
    }
  }
  const timeline = t.finish();
  let reserved = 0, peakReserved = 0, live = 0, peakLive = 0;
  const sizes = new Map<number, number>();
  for (let i = 0; i < timeline.op.length; i++) {
    const op = timeline.op[i], size = timeline.size[i];
    if (op === EventOp.reserve) reserved += size;
    else if (op === EventOp.release) reserved -= size;
    else if (op === EventOp.allocate) {
      sizes.set(timeline.id[i], size);
      live += size;
    } else if (op === EventOp.free) live -= sizes.get(timeline.id[i]) ?? 0;
    peakReserved = Math.max(peakReserved, reserved);
    peakLive = Math.max(peakLive, live);
  }
  const figures: Figure[] = [
    ["device", `cuda:${device}`],
    ["trace entries", String(entries.length)],
    ["peak live", formatBytes(peakLive)],
    ["PyTorch peak reserved", formatBytes(peakReserved)],
    ["peak reserved ÷ peak live", peakLive > 0 ? (peakReserved / peakLive).toFixed(3) : "–"],
    ["out-of-memory events", String(ooms)],
  ];
  return { timeline, figures };
}
