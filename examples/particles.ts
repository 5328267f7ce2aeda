/**
 * A particle simulation that streams its state to the host every frame, the way the fifth seed's
 * physics engine does: a kernel (csrc/sim/particles.h) steps the particles on a compute stream,
 * a Readback ring copies each frame's positions back through pinned slots on a transfer stream
 * while the next frame computes, and particles are added over time through ResizableBuffers. At
 * the end the tracker's report shows that nothing was left allocated.
 *
 *   deno run --allow-ffi --allow-env --allow-read --allow-sys examples/particles.ts \
 *     [--particles 1000000] [--frames 120] [--substeps 10] [--mode ring|sync|compute|readback]
 *     [--slots 2]
 *
 * Modes, for comparing (bench/particles_timing.ts runs them all): `ring` (the default) overlaps
 * each frame's readback with the next frame's compute; `sync` waits for the compute, then for the
 * copy (their sum); `compute` runs the kernel alone, `readback` the ring alone.
 *
 * @module
 */

import {
  defaultDevice,
  formatBytes,
  getMemoryManager,
  HostBuffer,
  type MemoryDevice,
  Readback,
  type ReadbackFrame,
  ResizableBuffer,
  stepParticles,
  Stream,
} from "../mod.ts";

/** What {@linkcode simulate} runs. */
export interface SimulationOptions {
  /** Particles at the end (half at the start, the rest added frame by frame). */
  particles: number;
  /** Frames to run. */
  frames: number;
  /** Kernel substeps a frame (more: a longer compute per frame). */
  substeps: number;
  /** ring, sync, compute or readback (see the module doc). */
  mode: "ring" | "sync" | "compute" | "readback";
  /** The device (default: the default device). */
  device?: MemoryDevice;
  /** Add particles over time (default true); false keeps the count fixed. */
  grow?: boolean;
  /** The ring's slots (default 2; k slots keep k − 1 copies in flight). */
  slots?: number;
  /** The ring's device-side snapshot of each frame (default true; see ReadbackOptions). */
  deviceSnapshot?: boolean;
}

/** What a run measured. */
export interface SimulationResult {
  /** Frames run. */
  frames: number;
  /** Particles at the end. */
  particles: number;
  /** Wall seconds of the frame loop. */
  seconds: number;
  /** Frames read on the host. */
  framesRead: number;
  /** The last frame's centroid, sampled on the host (every 64th particle). */
  centroid: [number, number, number];
}

/** `n` particles at random in the box, nearly at rest, as float32 xyz triples. */
function newParticles(
  n: number,
  seed: number,
): { positions: Float32Array; velocities: Float32Array } {
  let state = seed >>> 0 || 1;
  const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const positions = new Float32Array(3 * n), velocities = new Float32Array(3 * n);
  for (let i = 0; i < 3 * n; i++) {
    positions[i] = 1.8 * random() - 0.9;
    velocities[i] = 0.1 * (random() - 0.5);
  }
  return { positions, velocities };
}

/** Runs the simulation; everything it allocates is freed when it returns. */
export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const device = options.device ?? defaultDevice();
  const grow = options.grow ?? true;
  using compute = new Stream(device);
  const bytesPerParticle = 12;
  const maxBytes = options.particles * bytesPerParticle;
  using positions = ResizableBuffer.create(0, {
    device,
    stream: compute,
    label: "particles.positions",
  });
  using velocities = ResizableBuffer.create(0, {
    device,
    stream: compute,
    label: "particles.velocities",
  });
  positions.reserve(maxBytes);
  velocities.reserve(maxBytes);
  const add = (n: number, seed: number) => {
    const fresh = newParticles(n, seed);
    positions.append(fresh.positions);
    velocities.append(fresh.velocities);
  };
  const first = grow ? Math.ceil(options.particles / 2) : options.particles;
  add(first, 1);
  // Frame f holds first + (rest × f / (frames − 1)) particles: all of them by the last frame.
  const countAt = (f: number) =>
    first + Math.round((options.particles - first) * f / Math.max(1, options.frames - 1));

  using ring = new Readback(positions, {
    label: "particles.readback",
    slots: options.slots,
    deviceSnapshot: options.deviceSnapshot,
  });
  using pinned = HostBuffer.allocate(maxBytes, { device, label: "particles.host" }); // sync modes
  let framesRead = 0;
  let centroid: [number, number, number] = [0, 0, 0];
  const read = (xyz: Float32Array) => {
    // The host's use of a frame: a centroid over a fixed sample of 4096 particles (cheap and the
    // same at every count, so a frame's bound stays the GPU's compute and the copy; reading
    // every 64th particle of 10M took the host ~3 ms a frame, more than the copy).
    const count = Math.floor(xyz.length / 3);
    const stride = 3 * Math.max(1, Math.floor(count / 4096));
    let x = 0, y = 0, z = 0, n = 0;
    for (let i = 0; i + 2 < xyz.length; i += stride, n++) {
      x += xyz[i];
      y += xyz[i + 1];
      z += xyz[i + 2];
    }
    centroid = [x / Math.max(n, 1), y / Math.max(n, 1), z / Math.max(n, 1)];
    framesRead++;
  };
  const readFrame = (frame: ReadbackFrame | null) => {
    if (frame !== null) read(frame.typed(Float32Array));
  };

  const start = performance.now();
  for (let f = 0; f < options.frames; f++) {
    const adding = countAt(f) - positions.length / bytesPerParticle;
    if (adding > 0) add(adding, f + 1);
    const length = positions.length;
    const step = () =>
      stepParticles(
        positions.view(0, length).typed(Float32Array),
        velocities.view(0, length).typed(Float32Array),
        { substeps: options.substeps, time: f * options.substeps * 0.002, stream: compute },
      );
    switch (options.mode) {
      case "ring": {
        step();
        using previous = await ring.frame(compute); // this frame queued, the last one back
        readFrame(previous);
        break;
      }
      case "sync": {
        step();
        await compute.synchronizeAsync();
        const host = pinned.typed(Float32Array, 0, length / 4);
        read(await positions.view(0, length).copyToHostAsync(compute, host));
        break;
      }
      case "compute":
        step();
        await compute.synchronizeAsync();
        break;
      case "readback": {
        using previous = await ring.frame(compute); // the ring alone: copies back to back
        readFrame(previous);
        break;
      }
    }
  }
  if (options.mode === "ring" || options.mode === "readback") {
    for (let left = await ring.flush(); left !== null; left = await ring.flush()) {
      readFrame(left);
      left.release();
    }
  }
  await compute.synchronizeAsync();
  const seconds = (performance.now() - start) / 1000;
  return {
    frames: options.frames,
    particles: positions.length / bytesPerParticle,
    seconds,
    framesRead,
    centroid,
  };
}

function option(name: string, fallback: string): string {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 && at + 1 < Deno.args.length ? Deno.args[at + 1] : fallback;
}

if (import.meta.main) {
  const tracker = getMemoryManager().tracker; // first: every buffer from here on is counted
  const device = defaultDevice();
  const mode = option("mode", "ring") as SimulationOptions["mode"];
  if (!["ring", "sync", "compute", "readback"].includes(mode)) {
    console.error("--mode is ring, sync, compute or readback");
    Deno.exit(2);
  }
  const particles = Number(option("particles", device.kind === "cpu" ? "100000" : "1000000"));
  const frames = Number(option("frames", "120"));
  const substeps = Number(option("substeps", "10"));
  const slots = Number(option("slots", "2"));
  const result = await simulate({ particles, frames, substeps, mode, device, slots });
  const c = result.centroid.map((v) => v.toFixed(3)).join(", ");
  console.log(
    `${result.frames} frames of ${result.particles} particles on ${device.id} (${mode}): ` +
      `${(result.frames / result.seconds).toFixed(1)} frames/s, ${result.framesRead} read on the ` +
      `host; last centroid (${c})`,
  );
  const left = tracker.report((a) => a.label.startsWith("particles"));
  const peak = getMemoryManager().stats(device).allocatedBytes.peak;
  console.log(
    left.count === 0
      ? `tracker: nothing left allocated (the pool's peak: ${formatBytes(peak)})`
      : `tracker: LEAKED\n${left.text}`,
  );
  if (left.count !== 0) Deno.exit(1);
}
