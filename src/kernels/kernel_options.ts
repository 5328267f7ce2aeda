/**
 * Where a kernel call runs: the device, stream and label prefix every kernel entry (MeshBvh,
 * kNN, distances) takes from its options, checked and defaulted in one place.
 *
 * @module
 */

import type { DeviceBuffer } from "../buffers/device_buffer.ts";
import { Stream } from "../cuda/stream.ts";
import { defaultDevice } from "../device/select.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError } from "../errors.ts";
import { checkOptions } from "../validate.ts";
import { kernelStream } from "./kernel_stream.ts";
import { kernelLibrary } from "./library.ts";

/** The placement options every kernel call takes. */
export interface KernelPlacementOptions {
  /** The device to run on (default: the inputs' device when they are device memory, else the default device). */
  device?: MemoryDevice;
  /** The stream its work is ordered on (default: the device's kernel stream, shared). */
  stream?: Stream;
  /** Label prefix of its allocations. */
  label?: string;
}

/** A checked placement. */
export interface KernelPlacement {
  readonly device: MemoryDevice;
  readonly stream: Stream;
  readonly label: string;
}

/**
 * Checks `options` (an options object, a device, a Stream on that device, a non-empty label),
 * fills in the defaults (the device of `input` when it is device memory) and makes sure the
 * device's kernel library opens, all before anything is allocated.
 */
export function placeKernel(
  options: KernelPlacementOptions,
  input: unknown,
  defaultLabel: string,
): KernelPlacement {
  checkOptions(options);
  const device = options.device ?? viewDevice(input) ?? defaultDevice();
  const label = options.label ?? defaultLabel;
  if (typeof label !== "string" || label.length === 0) {
    throw new InvalidArgumentError("options.label", "a non-empty string", label);
  }
  if (options.stream !== undefined && !(options.stream instanceof Stream)) {
    throw new InvalidArgumentError("options.stream", "a Stream", options.stream);
  }
  if (options.stream !== undefined && options.stream.device !== device) {
    throw new InvalidArgumentError("options.stream", `a Stream on ${device.id}`, options.stream);
  }
  kernelLibrary(device.kind); // KernelLibraryUnavailableError before anything is allocated
  return { device, stream: options.stream ?? kernelStream(device), label };
}

/** The device of a typed device view, else undefined. */
function viewDevice(value: unknown): MemoryDevice | undefined {
  const bytes = (value as { bytes?: DeviceBuffer })?.bytes;
  return bytes?.device;
}
