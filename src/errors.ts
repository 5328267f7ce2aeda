/**
 * gpumem's typed errors. Each carries the numbers a person needs to act, and keeps `cause`.
 *
 * @module
 */

import type { LoadAttempt } from "../ffi/loader.ts";

/** Base class of every error gpumem throws on purpose. */
export class GpumemError extends Error {
  /** Creates the error; `options.cause` is kept. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A CUDA driver call returned something other than CUDA_SUCCESS. */
export class CudaError extends GpumemError {
  /** The CUresult value. */
  readonly code: number;
  /** The driver's name for the code, e.g. `CUDA_ERROR_INVALID_VALUE`. */
  readonly codeName: string;
  /** The driver's description of the code. */
  readonly driverMessage: string;
  /** The driver function that failed, e.g. `cuMemAlloc_v2`. */
  readonly call: string;

  /** Creates the error from a failed call's result and the driver's own words for it. */
  constructor(call: string, code: number, codeName: string, driverMessage: string) {
    super(`${call} failed: ${codeName} (${code}): ${driverMessage}`);
    this.call = call;
    this.code = code;
    this.codeName = codeName;
    this.driverMessage = driverMessage;
  }
}

/** A shared library could not be used; lists every path tried and why each failed. */
export class LibraryUnavailableError extends GpumemError {
  /** Every library path tried, with why it failed (empty when loading worked but setup failed). */
  readonly attempts: readonly LoadAttempt[];

  /** Creates the error from the loader's attempts, each on a line of the message. */
  constructor(message: string, attempts: readonly LoadAttempt[], options?: ErrorOptions) {
    const tried = attempts.map((a) => `\n  - ${a.path} (${a.source}): ${a.error.message}`).join("");
    super(`${message}${tried}`, options);
    this.attempts = attempts;
  }
}

/** No CUDA driver library could be opened or initialised. */
export class DriverUnavailableError extends LibraryUnavailableError {}

/** The compiled kernel library (csrc/) could not be opened. */
export class KernelLibraryUnavailableError extends LibraryUnavailableError {}

/** Facts about a device's memory at the moment an allocation failed. */
export interface OutOfMemoryDetails {
  /** Bytes the failed request asked for. */
  requestedBytes: number;
  /** The device (e.g. `cuda:0`, `cpu`). */
  device: string;
  /** Free bytes the device reported right after the failure (NaN when unknown). */
  freeBytes: number;
  /** Total bytes of the device (NaN when unknown). */
  totalBytes: number;
}

/** An allocation could not be satisfied. */
export class OutOfMemoryError extends GpumemError {
  /** Bytes the failed request asked for. */
  readonly requestedBytes: number;
  /** The device the request was for. */
  readonly device: string;
  /** Free bytes the device reported right after the failure (NaN when unknown). */
  readonly freeBytes: number;
  /** Total bytes of the device (NaN when unknown). */
  readonly totalBytes: number;

  /** Creates the error; `extra` lines are appended to the message (pool state, top users...). */
  constructor(details: OutOfMemoryDetails, extra: readonly string[] = [], options?: ErrorOptions) {
    const lines = [
      `out of memory on ${details.device}: tried to allocate ${
        formatBytes(details.requestedBytes)
      }` +
      ` (${details.requestedBytes} B); device has ${formatBytes(details.freeBytes)} free of ` +
      `${formatBytes(details.totalBytes)}`,
      ...extra,
    ];
    super(lines.join("\n  "), options);
    this.requestedBytes = details.requestedBytes;
    this.device = details.device;
    this.freeBytes = details.freeBytes;
    this.totalBytes = details.totalBytes;
  }
}

/**
 * A resize asked for more than a buffer may hold: its own limit or the address range it reserved.
 * The buffer and its data are unchanged.
 */
export class CapacityError extends GpumemError {
  /** Bytes asked for. */
  readonly requestedBytes: number;
  /** The most the buffer may hold. */
  readonly limitBytes: number;

  /** Creates the error for `what` asked to hold `requestedBytes` of at most `limitBytes`. */
  constructor(what: string, requestedBytes: number, limitBytes: number) {
    super(
      `${what} cannot hold ${formatBytes(requestedBytes)}: its limit is ${formatBytes(limitBytes)}`,
    );
    this.requestedBytes = requestedBytes;
    this.limitBytes = limitBytes;
  }
}

/** An argument was rejected before any driver call was made. */
export class InvalidArgumentError extends GpumemError {
  /** The parameter's name. */
  readonly argument: string;
  /** What the parameter accepts. */
  readonly expected: string;

  /** Creates the error naming the argument, what it accepts and what it got. */
  constructor(argument: string, expected: string, received: unknown) {
    super(`invalid ${argument}: expected ${expected}, got ${describe(received)}`);
    this.argument = argument;
    this.expected = expected;
  }
}

/** A transfer between host and device failed; `injected` when a test made it fail on purpose. */
export class TransferError extends GpumemError {
  /** "to device" or "to host". */
  readonly direction: "to device" | "to host";
  /** Bytes of the piece that failed. */
  readonly bytes: number;
  /** Whether a fault schedule failed it on purpose (TransferPipeline's `faults` option). */
  readonly injected: boolean;

  /** Creates the error for a failed piece of `bytes` bytes moving `direction`. */
  constructor(
    direction: "to device" | "to host",
    bytes: number,
    injected: boolean,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`a transfer ${direction} failed at a piece of ${formatBytes(bytes)}: ${detail}`, options);
    this.direction = direction;
    this.bytes = bytes;
    this.injected = injected;
  }
}

/** Something was used after it was freed, closed or disposed. */
export class DisposedError extends GpumemError {
  /** What was used, e.g. `DeviceBuffer(cuda:0, 1.00 MiB)`. */
  readonly what: string;

  /** Creates the error naming the object and how it died. */
  constructor(what: string, reason = "was used after it was freed") {
    super(`${what} ${reason}`);
    this.what = what;
  }
}

/**
 * A Readback was asked for a frame while the host still holds every slot it could copy into:
 * give a frame back (release()) first, or make the ring with more slots. Nothing was queued.
 */
export class SlotsHeldError extends GpumemError {
  /** The ring's slots. */
  readonly slots: number;

  /** Creates the error for a ring of `slots` slots. */
  constructor(slots: number) {
    super(
      `all ${slots} readback slots are held: release() a frame before asking for the next ` +
        "(or make the ring with more slots)",
    );
    this.slots = slots;
  }
}

/** Formats a byte count for people: `1.50 GiB`, `512 B`; `unknown` for NaN. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "unknown";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const sign = bytes < 0 ? "-" : "";
  return unit === 0 ? `${sign}${value} B` : `${sign}${value.toFixed(2)} ${units[unit]}`;
}

function describe(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) {
    return String(value);
  }
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.byteLength} B)`;
  return Object.prototype.toString.call(value);
}
