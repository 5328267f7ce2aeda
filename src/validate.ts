/**
 * Argument checks run before any FFI call, so a bad value never reaches the driver.
 *
 * @module
 */

import { InvalidArgumentError } from "./errors.ts";

/** Typed arrays gpumem copies to and from (DataView and Uint8ClampedArray included). */
export type HostArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A constructor of one of the {@linkcode HostArray} kinds. */
export type HostArrayConstructor<T extends HostArray = HostArray> = {
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): T;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

const HOST_ARRAY_KINDS: ReadonlySet<unknown> = new Set([
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
]);

/** A non-negative safe integer byte count (0 allowed). */
export function checkByteCount(value: unknown, argument: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(argument, "a non-negative safe integer", value);
  }
  return value;
}

/** A positive safe integer byte count. */
export function checkPositiveByteCount(value: unknown, argument: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentError(argument, "a positive safe integer", value);
  }
  return value;
}

/** `[offset, offset + length)` must lie inside `[0, total)`. */
export function checkRange(offset: unknown, length: unknown, total: number): void {
  const start = checkByteCount(offset, "offset");
  const count = checkByteCount(length, "length");
  if (start + count > total) {
    throw new InvalidArgumentError(
      "range",
      `offset + length <= ${total}`,
      `offset ${start} + length ${count} = ${start + count}`,
    );
  }
}

/** A byte value for fills: an integer 0..255. */
export function checkByteValue(value: unknown, argument = "value"): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 255) {
    throw new InvalidArgumentError(argument, "an integer from 0 to 255", value);
  }
  return value;
}

/** A typed array of an accepted kind whose memory is usable (not detached, not shared). */
export function checkHostArray(value: unknown, argument = "data"): HostArray {
  if (!ArrayBuffer.isView(value) || !HOST_ARRAY_KINDS.has(value.constructor)) {
    throw new InvalidArgumentError(
      argument,
      "a typed array (Uint8Array, Float32Array, ...)",
      value,
    );
  }
  const view = value as HostArray;
  if (isDetached(view.buffer)) {
    throw new InvalidArgumentError(argument, "a typed array over a live ArrayBuffer", "detached");
  }
  return view;
}

/**
 * A typed array whose memory stays where it is for as long as a transfer or a registration uses
 * it: {@linkcode checkHostArray}, and not over a resizable ArrayBuffer or a growable
 * SharedArrayBuffer (resizing may shrink or decommit the pages under a DMA). A plain
 * SharedArrayBuffer is fine: it can never be detached.
 */
export function checkStableHostArray(value: unknown, argument = "data"): HostArray {
  const view = checkHostArray(value, argument);
  const buffer = view.buffer as { resizable?: boolean; growable?: boolean };
  if (buffer.resizable === true || buffer.growable === true) {
    throw new InvalidArgumentError(
      argument,
      "a typed array over a fixed-length ArrayBuffer or SharedArrayBuffer",
      buffer.growable === true ? "a growable SharedArrayBuffer" : "a resizable ArrayBuffer",
    );
  }
  return view;
}

/** A constructor of an accepted typed-array kind. */
export function checkHostArrayConstructor(value: unknown): HostArrayConstructor {
  if (!HOST_ARRAY_KINDS.has(value)) {
    throw new InvalidArgumentError("type", "a typed array constructor (Float32Array, ...)", value);
  }
  return value as HostArrayConstructor;
}

/**
 * The elements a typed view of `byteLength` bytes takes: `type` checked, `elementOffset` and
 * `count` (default: every whole element from there) checked as counts.
 */
export function elementRange<T extends HostArray>(
  type: HostArrayConstructor<T>,
  elementOffset: number,
  count: number | undefined,
  byteLength: number,
): { kind: HostArrayConstructor<T>; size: number; elements: number } {
  const kind = checkHostArrayConstructor(type) as HostArrayConstructor<T>;
  const size = kind.BYTES_PER_ELEMENT;
  checkByteCount(elementOffset, "elementOffset");
  const elements = count ?? Math.floor(byteLength / size) - elementOffset;
  checkByteCount(elements, "count");
  return { kind, size, elements };
}

/** Views the bytes of any accepted typed array as a Uint8Array over the same memory. */
export function bytesOf(view: HostArray): Uint8Array {
  return view instanceof Uint8Array
    ? view
    : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function isDetached(buffer: ArrayBufferLike): boolean {
  return "detached" in buffer && (buffer as ArrayBuffer).detached === true;
}

/** A boolean option: `value`, or `fallback` when undefined; InvalidArgumentError otherwise. */
export function checkBoolean(value: unknown, fallback: boolean, argument: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new InvalidArgumentError(argument, "a boolean", value);
  return value;
}

/** An options object (undefined: `{}`); InvalidArgumentError for anything else. */
export function checkOptions<T extends object>(value: T | undefined, argument = "options"): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidArgumentError(argument, "an options object", value);
  }
  return value;
}

/** A device: a CUDA Device or the cpu device (checked by shape, so no import cycle). */
export function checkDevice<T>(value: T, argument = "device"): T {
  const device = value as { kind?: unknown; activate?: unknown; id?: unknown } | null;
  if (
    typeof device !== "object" || device === null ||
    (device.kind !== "cpu" && device.kind !== "cuda") || typeof device.activate !== "function" ||
    typeof device.id !== "string"
  ) {
    throw new InvalidArgumentError(argument, "a Device or the cpu device", value);
  }
  return value;
}
