/**
 * What the mesh calls accept: host typed arrays or typed device views of xyz coordinates and of
 * vertex indices, checked and described once before anything reaches the kernel library.
 *
 * @module
 */

import type { TypedDeviceView } from "../buffers/typed_device_view.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError } from "../errors.ts";
import { deviceViewOf } from "./view_input.ts";

/** xyz coordinates: 3 numbers a point, on the host. */
export type CoordinateArray = Float32Array | Float64Array;
/** Vertex indices: 3 a triangle, on the host. */
export type IndexArray = Uint32Array | Int32Array;
/** xyz coordinates on the host or in device memory. */
export type CoordinateInput =
  | CoordinateArray
  | TypedDeviceView<Float32Array>
  | TypedDeviceView<Float64Array>;
/** Triangle vertex indices on the host or in device memory. */
export type IndexInput = IndexArray | TypedDeviceView<Uint32Array> | TypedDeviceView<Int32Array>;

/** A checked array of triples: host or device, float32 or float64 (or indices). */
export interface Triples {
  /** The argument's name, for messages. */
  readonly argument: string;
  /** The host array, or null for device memory. */
  readonly host: CoordinateArray | IndexArray | null;
  /** The device view, or null for a host array. */
  readonly view: TypedDeviceView<CoordinateArray | IndexArray> | null;
  /** Triples (points, or triangles). */
  readonly count: number;
  /** Whether the numbers are float64. */
  readonly f64: boolean;
}

const COORDINATE_TYPES: readonly unknown[] = [Float32Array, Float64Array];
const INDEX_TYPES: readonly unknown[] = [Uint32Array, Int32Array];

/** Checks xyz coordinates (on `device` when they are device memory). */
export function coordinateTriples(
  value: unknown,
  argument: string,
  device: MemoryDevice,
): Triples {
  return triples(value, argument, device, COORDINATE_TYPES, "Float32Array or Float64Array");
}

/** Checks triangle vertex indices (on `device` when they are device memory). */
export function indexTriples(value: unknown, argument: string, device: MemoryDevice): Triples {
  return triples(value, argument, device, INDEX_TYPES, "Uint32Array or Int32Array");
}

function triples(
  value: unknown,
  argument: string,
  device: MemoryDevice,
  types: readonly unknown[],
  kinds: string,
): Triples {
  let host: CoordinateArray | IndexArray | null = null;
  let length: number;
  let f64: boolean;
  const view: TypedDeviceView<CoordinateArray | IndexArray> | null = deviceViewOf<
    CoordinateArray | IndexArray
  >(value, argument, device, types, kinds);
  if (view !== null) {
    length = view.length;
    f64 = view.type === Float64Array;
  } else if (types.some((type) => value instanceof (type as typeof Float32Array))) {
    host = value as CoordinateArray | IndexArray;
    length = host.length;
    f64 = host instanceof Float64Array;
  } else {
    throw new InvalidArgumentError(argument, `a ${kinds}, or a typed device view of one`, value);
  }
  if (length % 3 !== 0) {
    throw new InvalidArgumentError(argument, "a length that is a multiple of 3", length);
  }
  if (length / 3 > 0x7fffffff) {
    throw new InvalidArgumentError(argument, "fewer than 2^31 triples", length / 3);
  }
  return { argument, host, view, count: length / 3, f64 };
}

/** Rejects a pair of inputs where one is host memory and the other device memory. */
export function checkSameSide(a: Triples, b: Triples): void {
  if ((a.host === null) !== (b.host === null)) {
    throw new InvalidArgumentError(
      b.argument,
      `${a.host === null ? "device memory" : "a host array"}, as ${a.argument} is`,
      b.host === null ? "device memory" : "a host array",
    );
  }
}
