/**
 * Frames per second of examples/particles.ts in its four modes, at several particle counts:
 * compute alone, readback alone (the ring without compute), compute + synchronous readback, and
 * compute + the ring; beside them the bound overlap allows (the slower of compute and readback)
 * and the pinned device-to-host bandwidth of a plain copy of the same bytes. Prints a table and
 * writes build/particles_timing.json.
 *
 *     deno run --allow-ffi --allow-env --allow-read --allow-write --allow-sys \
 *       bench/particles_timing.ts [counts, default 100000,1000000,10000000] [frames, default 60]
 *
 * Every count runs with a fixed particle count (no growth), so the four modes move the same
 * bytes; the median frame time of three runs is taken.
 *
 * @module
 */

import { defaultDevice, DeviceBuffer, HostBuffer, Stream } from "../mod.ts";
import { simulate, type SimulationOptions } from "../examples/particles.ts";

const counts = (Deno.args[0] ?? "100000,1000000,10000000").split(",").map(Number);
const frames = Number(Deno.args[1] ?? 60);
const substeps = Number(Deno.env.get("PARTICLE_SUBSTEPS") ?? 10);
const device = defaultDevice();
const modes: SimulationOptions["mode"][] = ["compute", "readback", "sync", "ring"];

/** Milliseconds of a pinned device-to-host copy of `bytes` (median of 10 after a warm-up). */
async function pinnedCopyMs(bytes: number): Promise<number> {
  using stream = new Stream(device);
  using source = DeviceBuffer.allocate(bytes, { device });
  using host = HostBuffer.allocate(bytes, { device });
  const times: number[] = [];
  for (let i = 0; i < 11; i++) {
    const start = performance.now();
    await source.copyToHostAsync(stream, host.bytes);
    if (i > 0) times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[5];
}

const rows: Record<string, number | string>[] = [];
for (const particles of counts) {
  const ms: Record<string, number> = {};
  for (const mode of modes) {
    const runs: number[] = [];
    for (let run = 0; run < 3; run++) {
      const result = await simulate({ particles, frames, substeps, mode, device, grow: false });
      runs.push((1000 * result.seconds) / result.frames);
    }
    ms[mode] = runs.sort((a, b) => a - b)[1];
  }
  const bytes = particles * 12;
  const copy = await pinnedCopyMs(bytes);
  const bound = Math.max(ms.compute, ms.readback);
  rows.push({
    particles,
    computeMs: ms.compute,
    readbackMs: ms.readback,
    syncMs: ms.sync,
    ringMs: ms.ring,
    boundMs: bound,
    ringOverBound: ms.ring / bound,
    syncOverRing: ms.sync / ms.ring,
    readbackGBs: bytes / ms.readback / 1e6,
    pinnedGBs: bytes / copy / 1e6,
    readbackOfPinned: copy / ms.readback,
  });
}
await Deno.mkdir("build", { recursive: true });
await Deno.writeTextFile(
  "build/particles_timing.json",
  JSON.stringify({ device: device.id, name: device.name, frames, substeps, rows }, null, 2),
);
const fps = (frameMs: number | string) => (1000 / Number(frameMs)).toFixed(1);
console.log(
  `particles on ${device.id} (${device.name}), ${frames} frames, ${substeps} substeps a frame`,
);
console.log(
  "particles  | compute fps | readback fps | sync fps | ring fps | ring ÷ bound | sync ÷ ring | readback GB/s (of pinned)",
);
for (const r of rows) {
  console.log(
    `${String(r.particles).padStart(10)} | ${fps(r.computeMs).padStart(11)} | ${
      fps(r.readbackMs).padStart(12)
    } | ${fps(r.syncMs).padStart(8)} | ${fps(r.ringMs).padStart(8)} | ${
      Number(r.ringOverBound).toFixed(3).padStart(12)
    } | ${Number(r.syncOverRing).toFixed(2).padStart(11)} | ${Number(r.readbackGBs).toFixed(1)} (${
      (100 * Number(r.readbackOfPinned)).toFixed(1)
    }% of ${Number(r.pinnedGBs).toFixed(1)})`,
  );
}
