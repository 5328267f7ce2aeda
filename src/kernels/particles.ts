/**
 * The particle step (csrc/sim/particles.h): the simulation kernel that examples/particles.ts
 * streams back to the host every frame. Positions and velocities are float32 xyz triples in
 * device memory, updated in place.
 *
 * @module
 */

import type { TypedDeviceView } from "../buffers/typed_device_view.ts";
import { checkOpenStream, type Stream } from "../cuda/stream.ts";
import { InvalidArgumentError } from "../errors.ts";
import { checkOptions } from "../validate.ts";
import { checkKernelStatus, kernelLibrary } from "./library.ts";

/** Options for {@linkcode stepParticles}. */
export interface StepParticlesOptions {
  /** Seconds a substep (default 0.002). */
  dt?: number;
  /** Substeps (default 1; 1 to 10,000). */
  substeps?: number;
  /** The wells' clock at the first substep, seconds (default 0). */
  time?: number;
  /** The stream to queue the step on; without one it is done on return. */
  stream?: Stream;
}

/**
 * Advances the particles by `substeps` steps of `dt`: three softened gravity wells circling the
 * origin pull them, damping slows them, the walls of [-1, 1]³ reflect them. Bad input is an
 * InvalidArgumentError before the kernel runs.
 *
 * @example
 * ```ts
 * import { cpuDevice, DeviceBuffer, stepParticles } from "@gpumem/gpumem";
 * using positions = DeviceBuffer.fromHost(new Float32Array([0.9, 0, 0]), { device: cpuDevice });
 * using velocities = DeviceBuffer.fromHost(new Float32Array(3), { device: cpuDevice });
 * stepParticles(positions.typed(Float32Array), velocities.typed(Float32Array), { substeps: 10 });
 * console.log(positions.typed(Float32Array).copyToHost()[0] < 0.9); // true: pulled inwards
 * ```
 */
export function stepParticles(
  positions: TypedDeviceView<Float32Array>,
  velocities: TypedDeviceView<Float32Array>,
  options: StepParticlesOptions = {},
): void {
  checkOptions(options);
  for (const [name, view] of [["positions", positions], ["velocities", velocities]] as const) {
    if (view?.type !== Float32Array) {
      throw new InvalidArgumentError(name, "a TypedDeviceView<Float32Array>", view);
    }
  }
  if (positions.length % 3 !== 0) {
    throw new InvalidArgumentError(
      "positions",
      "xyz triples (a length divisible by 3)",
      positions.length,
    );
  }
  if (velocities.length !== positions.length) {
    throw new InvalidArgumentError(
      "velocities",
      `${positions.length} floats (as positions)`,
      velocities.length,
    );
  }
  const { dt = 0.002, substeps = 1, time = 0, stream } = options;
  if (typeof dt !== "number" || !(dt > 0) || !Number.isFinite(dt)) {
    throw new InvalidArgumentError("options.dt", "a positive finite number", dt);
  }
  if (!Number.isSafeInteger(substeps) || substeps < 1 || substeps > 10_000) {
    throw new InvalidArgumentError("options.substeps", "an integer from 1 to 10,000", substeps);
  }
  if (typeof time !== "number" || !Number.isFinite(time)) {
    throw new InvalidArgumentError("options.time", "a finite number", time);
  }
  const device = positions.bytes.device;
  if (velocities.bytes.device !== device) {
    throw new InvalidArgumentError(
      "velocities",
      `a view on ${device.id}`,
      velocities.bytes.device.id,
    );
  }
  if (stream !== undefined) checkOpenStream(stream, device, "options.stream");
  const library = kernelLibrary(device.kind);
  const status = library.symbols.gm_particles_step(
    device.ordinal,
    BigInt(positions.length / 3),
    positions.ptr,
    velocities.ptr,
    dt,
    substeps,
    time,
    stream?.handle ?? null,
  );
  checkKernelStatus(library, status, "gm_particles_step");
  if (stream === undefined) device.synchronize();
}
