/**
 * What the vector calls accept: rows of `dim` numbers, as a Float32Array or Float64Array or a
 * typed device view of one, checked before anything reaches the kernel library.
 *
 * @module
 */

import type { TypedDeviceView } from "../buffers/typed_device_view.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError } from "../errors.ts";
import { deviceViewOf } from "./view_input.ts";

const FLOAT_TYPES: readonly unknown[] = [Float32Array, Float64Array];
const FLOAT_KINDS = "Float32Array or Float64Array";

/** Rows of `dim` numbers, on the host or in device memory. */
export type VectorInput =
  | Float32Array
  | Float64Array
  | TypedDeviceView<Float32Array>
  | TypedDeviceView<Float64Array>;

/** A checked set of rows. */
export interface VectorRows {
  readonly argument: string;
  readonly host: Float32Array | Float64Array | null;
  readonly view: TypedDeviceView<Float32Array | Float64Array> | null;
  readonly rows: number;
  readonly dim: number;
  readonly f64: boolean;
}

/** Checks `dim` (an integer from 1 to 65536). */
export function checkDim(dim: unknown): number {
  if (typeof dim !== "number" || !Number.isInteger(dim) || dim < 1 || dim > 65536) {
    throw new InvalidArgumentError("options.dim", "an integer from 1 to 65536", dim);
  }
  return dim;
}

/** Checks rows of `dim` numbers (on `device` when they are device memory). */
export function vectorRows(
  value: unknown,
  argument: string,
  dim: number,
  device: MemoryDevice,
): VectorRows {
  let host: Float32Array | Float64Array | null = null;
  let length: number;
  let f64: boolean;
  const view: TypedDeviceView<Float32Array | Float64Array> | null = deviceViewOf<
    Float32Array | Float64Array
  >(
    value,
    argument,
    device,
    FLOAT_TYPES,
    FLOAT_KINDS,
  );
  if (view !== null) {
    length = view.length;
    f64 = view.type === Float64Array;
  } else if (value instanceof Float32Array || value instanceof Float64Array) {
    host = value;
    length = value.length;
    f64 = value instanceof Float64Array;
  } else {
    throw new InvalidArgumentError(
      argument,
      "a Float32Array or Float64Array, or a typed device view of one",
      value,
    );
  }
  if (length % dim !== 0) {
    throw new InvalidArgumentError(argument, `a length that is a multiple of dim (${dim})`, length);
  }
  if (length / dim > 0x7fffffff) {
    throw new InvalidArgumentError(argument, "fewer than 2^31 rows", length / dim);
  }
  return { argument, host, view, rows: length / dim, dim, f64 };
}

/** Rejects non-finite numbers in host rows (device rows are the caller's to keep finite). */
export function checkFinite(rows: VectorRows): void {
  const host = rows.host;
  if (host === null) return;
  for (let i = 0; i < host.length; i++) {
    if (!Number.isFinite(host[i])) {
      throw new InvalidArgumentError(rows.argument, "finite numbers", `${host[i]} at element ${i}`);
    }
  }
}
