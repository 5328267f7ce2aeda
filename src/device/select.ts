/**
 * Choosing a device: the first CUDA device when one is usable, else the cpu device (said once).
 *
 * @module
 */

import { readEnv } from "../../ffi/env.ts";
import { Device } from "../cuda/device.ts";
import { driverStatus } from "../cuda/driver.ts";
import { InvalidArgumentError } from "../errors.ts";
import { cpuDevice } from "./cpu_device.ts";
import type { MemoryDevice } from "./types.ts";

/** Environment variable choosing the default device: `cpu`, `cuda`, `cuda:N` or `N`. */
export const DEVICE_ENV = "GPUMEM_DEVICE";

/** Whether a CUDA device can be used here, and if not, why. */
export type CudaAvailability = { usable: true; count: number } | { usable: false; reason: string };

let availability: CudaAvailability | undefined;
let fallbackAnnounced = false;

/** Whether the CUDA driver loads and sees at least one device; the answer is cached. Never throws. */
export function cudaAvailability(): CudaAvailability {
  if (availability) return availability;
  const status = driverStatus();
  if (!status.available) {
    const { attempts, message } = status.error;
    availability = {
      usable: false,
      reason: attempts.length > 0
        ? attempts.map(({ path, error }) =>
          error.message.includes(path) ? error.message : `${path}: ${error.message}`
        ).join("; ")
        : message,
    };
    return availability;
  }
  try {
    const count = Device.count();
    availability = count > 0
      ? { usable: true, count }
      : { usable: false, reason: "the CUDA driver reports no devices" };
  } catch (error) {
    availability = {
      usable: false,
      reason: `cuDeviceGetCount failed: ${(error as Error).message}`,
    };
  }
  return availability;
}

/**
 * Parses a device name: `cpu`, `cuda` (= `cuda:0`), `cuda:N` or `N`. Throws InvalidArgumentError
 * for anything else, and whatever Device.get throws for a CUDA device that is not there.
 */
export function deviceByName(name: string): MemoryDevice {
  if (typeof name !== "string") {
    throw new InvalidArgumentError("device", '"cpu", "cuda", "cuda:N" or "N"', name);
  }
  const text = name.trim().toLowerCase();
  if (text === "cpu") return cpuDevice;
  const match = /^(?:cuda(?::(\d+))?|(\d+))$/.exec(text);
  if (!match) throw new InvalidArgumentError("device", '"cpu", "cuda", "cuda:N" or "N"', name);
  return Device.get(Number(match[1] ?? match[2] ?? 0));
}

/**
 * The device gpumem uses when none is given: the one GPUMEM_DEVICE names, else cuda:0 when a
 * CUDA device is usable, else the cpu device. Falling back to the cpu device is announced once
 * on stderr with the reason.
 */
export function defaultDevice(): MemoryDevice {
  const named = readEnv(DEVICE_ENV);
  if (named !== undefined) return deviceByName(named);
  const cuda = cudaAvailability();
  if (cuda.usable) return Device.get(0);
  if (!fallbackAnnounced) {
    fallbackAnnounced = true;
    console.error(`gpumem: no usable CUDA device, using the cpu device (${cuda.reason})`);
  }
  return cpuDevice;
}

/** Every usable device: each CUDA device, then the cpu device. */
export function listDevices(): MemoryDevice[] {
  const cuda = cudaAvailability();
  const gpus = cuda.usable ? Array.from({ length: cuda.count }, (_, i) => Device.get(i)) : [];
  return [...gpus, cpuDevice];
}
