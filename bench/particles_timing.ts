/**
 * Frames per second of examples/particles.ts in its four modes, at several particle counts:
 * compute alone, readback alone (the ring without compute), compute + synchronous readback, and
 * compute + the ring, the ring with 2 slots and with 3 (two copies in flight), and readback
 * without the ring's device-side copy; beside them the bound overlap allows (the slower of compute
 * and readback) and the pinned device-to-host bandwidth of the same bytes copied back to back. Prints a table and
 * writes build/particles_timing.json.
 *
 *     deno run --allow-ffi --allow-env --allow-read --allow-write --allow-sys \
 *       bench/particles_timing.ts [counts, default 100000,1000000,10000000] [frames a run]
 *
 * Every count runs with a fixed particle count (no growth), so the four modes move the same
 * bytes; the median frame time of three runs is taken.
 *
 * @module
 */

import { defaultDevice, DeviceBuffer, HostBuffer, Stream } from "../mod.ts";
import { simulate, type SimulationOptions } from "../examples/particles.ts";

const counts = (Deno.args[0] ?? "100000,1000000,10000000").split(",").map(Number);
// Frames a run: given, or enough for ~0.3 s of frames at every count (short runs measure the
// loop's start-up, not its steady state).
const framesArg = Number(Deno.args[1] ?? 0);
const framesFor = (particles: number) => framesArg || Math.max(60, Math.round(6e8 / particles));
const substeps = Number(Deno.env.get("PARTICLE_SUBSTEPS") ?? 10);
const device = defaultDevice();

/**
 * Milliseconds a pinned device-to-host copy of `bytes` takes when copies run back to back (eight
 * queued at once, the queue never empty: the bandwidth a ring can reach), median of 5 rounds
 * after a warm-up.
 */
async function pinnedCopyMs(bytes: number): Promise<number> {
  using stream = new Stream(device);
  using source = DeviceBuffer.allocate(bytes, { device });
  using host = HostBuffer.allocate(bytes, { device });
  const times: number[] = [];
  for (let round = 0; round < 6; round++) {
    const start = performance.now();
    const copies = Array.from({ length: 8 }, () => source.copyToHostAsync(stream, host.bytes));
    await Promise.all(copies);
    if (round > 0) times.push((performance.now() - start) / 8);
  }
  return times.sort((a, b) => a - b)[2];
}

/** Median milliseconds a frame of `mode` over three runs. */
async function frameMs(
  particles: number,
  mode: SimulationOptions["mode"],
  ring: { slots?: number; deviceSnapshot?: boolean } = {},
): Promise<number> {
  const runs: number[] = [];
  for (let run = 0; run < 3; run++) {
    const result = await simulate({
      particles,
      frames: framesFor(particles),
      substeps,
      mode,
      device,
      grow: false,
      ...ring,
    });
    runs.push((1000 * result.seconds) / result.frames);
  }
  return runs.sort((a, b) => a - b)[1];
}

const rows: Record<string, number | string>[] = [];
for (const particles of counts) {
  const compute = await frameMs(particles, "compute");
  const sync = await frameMs(particles, "sync");
  const row: Record<string, number> = {
    particles,
    frames: framesFor(particles),
    computeMs: compute,
    syncMs: sync,
  };
  for (const slots of [2, 3]) {
    const readback = await frameMs(particles, "readback", { slots });
    const ring = await frameMs(particles, "ring", { slots });
    row[`readback${slots}Ms`] = readback;
    row[`ring${slots}Ms`] = ring;
    row[`ring${slots}OverBound`] = ring / Math.max(compute, readback);
  }
  // The ring without its device-side snapshot: what the device copy costs the transfer.
  row.readbackNoSnapshotMs = await frameMs(particles, "readback", {
    slots: 3,
    deviceSnapshot: false,
  });
  const bytes = particles * 12;
  const copy = await pinnedCopyMs(bytes);
  row.pinnedGBs = bytes / copy / 1e6;
  row.readback3GBs = bytes / row.readback3Ms / 1e6;
  row.readback3OfPinned = copy / row.readback3Ms;
  row.readback2OfPinned = copy / row.readback2Ms;
  row.syncOverRing3 = sync / row.ring3Ms;
  rows.push(row);
}
await Deno.mkdir("build", { recursive: true });
await Deno.writeTextFile(
  "build/particles_timing.json",
  JSON.stringify({ device: device.id, name: device.name, substeps, rows }, null, 2),
);
const fps = (frameMs: number | string) => (1000 / Number(frameMs)).toFixed(1);
const pct = (share: number | string) => `${(100 * Number(share)).toFixed(1)}%`;
console.log(
  `particles on ${device.id} (${device.name}), ${substeps} substeps a frame; ` +
    "fps, slots in brackets",
);
const header = [
  "particles",
  "compute",
  "sync",
  "readback [2]",
  "readback [3]",
  "[3] no device copy",
  "ring [2]",
  "ring [3]",
  "ring ÷ bound [2]",
  "ring ÷ bound [3]",
  "readback of pinned [2]",
  "[3]",
  "pinned GB/s",
];
console.log(header.join(" | "));
for (const r of rows) {
  const cells = [
    String(r.particles),
    fps(r.computeMs),
    fps(r.syncMs),
    fps(r.readback2Ms),
    fps(r.readback3Ms),
    fps(r.readbackNoSnapshotMs),
    fps(r.ring2Ms),
    fps(r.ring3Ms),
    Number(r.ring2OverBound).toFixed(3),
    Number(r.ring3OverBound).toFixed(3),
    pct(r.readback2OfPinned),
    pct(r.readback3OfPinned),
    Number(r.pinnedGBs).toFixed(1),
  ];
  console.log(cells.map((cell, i) => cell.padStart(header[i].length)).join(" | "));
}
