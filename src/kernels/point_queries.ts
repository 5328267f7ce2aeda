/**
 * Nearest neighbours of 3-D points (the LiDAR case): the entries `knnPoints`, `radiusSearch`,
 * `pointFeatures` and `planKnnPoints`, their argument checks and the optional fallback to the
 * cpu device. What they run is in point_query_run.ts (index, chunked outputs), their types in
 * point_query_types.ts.
 *
 * @module
 */

import { checkBoolean } from "../validate.ts";
import { cpuDevice } from "../device/cpu_device.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError, OutOfMemoryError } from "../errors.ts";
import { placeKernel } from "./kernel_options.ts";
import {
  checkSameSide,
  type CoordinateInput,
  coordinateTriples,
  type Triples,
} from "./mesh_input.ts";
import { plan, run } from "./point_query_run.ts";
import {
  type DevicePointFeatures,
  type DevicePointNeighbours,
  type DeviceRadiusNeighbours,
  type KnnPointsOptions,
  MAX_POINT_K,
  type PointFeatures,
  type PointFeaturesOptions,
  type PointJob,
  type PointNeighbours,
  type PointQueryOptions,
  type PointQueryPlan,
  type RadiusNeighbours,
  type RadiusSearchOptions,
} from "./point_query_types.ts";
import type { TypedDeviceView } from "../buffers/typed_device_view.ts";

export type {
  DevicePointFeatures,
  DevicePointNeighbours,
  DeviceRadiusNeighbours,
  KnnPointsOptions,
  PointFeatures,
  PointFeaturesOptions,
  PointNeighbours,
  PointQueryOptions,
  PointQueryPlan,
  RadiusNeighbours,
  RadiusSearchOptions,
} from "./point_query_types.ts";
export { MAX_POINT_K } from "./point_query_types.ts";

/**
 * The k nearest points of each point of a 3-D cloud (or of `options.queries`), exactly: ties
 * broken by the smaller index, self excluded by default. `points`: xyz triples, Float32Array or
 * Float64Array (coordinates are kept as float offsets from the cloud's centre, so large
 * georeferenced coordinates lose nothing), or a typed device view (then the results are device
 * buffers). k from 1 to 256 and at most the points there are to find.
 *
 * @example
 * ```ts
 * import { knnPoints } from "@gpumem/gpumem";
 * const points = Float64Array.of(0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 5, 5);
 * const { indices, distances } = await knnPoints(points, 2);
 * console.log(indices.slice(0, 2), distances.slice(0, 2)); // [1, 2], [1, 2]
 * ```
 */
export function knnPoints(
  points: Float32Array | Float64Array,
  k: number,
  options?: KnnPointsOptions,
): Promise<PointNeighbours>;
/** Device views in: device buffers out. */
export function knnPoints(
  points: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
  k: number,
  options?: KnnPointsOptions,
): Promise<DevicePointNeighbours>;
export async function knnPoints(
  points: CoordinateInput,
  k: number,
  options: KnnPointsOptions = {},
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const job = pointJob(points, options, "knn", {
    k,
    argument: "k",
    radius: Infinity,
    features: false,
  });
  return await withFallback(job, options, run);
}

/**
 * The points within `radius` (inclusive) of each point (or of `options.queries`), the nearest
 * `maxNeighbours` of them, with their count; self excluded by default.
 */
export function radiusSearch(
  points: Float32Array | Float64Array,
  radius: number,
  options?: RadiusSearchOptions,
): Promise<RadiusNeighbours>;
/** Device views in: device buffers out. */
export function radiusSearch(
  points: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
  radius: number,
  options?: RadiusSearchOptions,
): Promise<DeviceRadiusNeighbours>;
export async function radiusSearch(
  points: CoordinateInput,
  radius: number,
  options: RadiusSearchOptions = {},
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  checkRadius(radius, "radius");
  const k = options.maxNeighbours ?? 32;
  const job = pointJob(points, options, "knn", {
    k,
    argument: "options.maxNeighbours",
    radius,
    features: false,
  });
  return await withFallback(job, options, run);
}

/**
 * Features of each point's neighbourhood (`{ k }`: the point and its k − 1 nearest; or
 * `{ radius }`): normal, eigenvalues, linearity, planarity, sphericity, verticality and change
 * of curvature, from the covariance and its eigen-decomposition in float64.
 */
export function pointFeatures(
  points: Float32Array | Float64Array,
  options: PointFeaturesOptions,
): Promise<PointFeatures>;
/** Device views in: one device buffer (and typed views into it) out. */
export function pointFeatures(
  points: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
  options: PointFeaturesOptions,
): Promise<DevicePointFeatures>;
export async function pointFeatures(
  points: CoordinateInput,
  options: PointFeaturesOptions,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError("options", "{ k } or { radius }", options);
  }
  const byK = options.k !== undefined, byRadius = options.radius !== undefined;
  if (byK === byRadius) {
    throw new InvalidArgumentError("options", "exactly one of k and radius", options);
  }
  if (byRadius) checkRadius(options.radius, "options.radius");
  const shape = byK ? { k: options.k, argument: "options.k", radius: Infinity, features: true } : {
    k: options.maxNeighbours ?? 64,
    argument: "options.maxNeighbours",
    radius: options.radius!,
    features: true,
  };
  const job = pointJob(points, { ...options, excludeSelf: false }, "features", shape);
  return await withFallback(job, options, run);
}

/**
 * What a self query of `count` points with `k` neighbours (and features, if asked) will take on
 * `device`: index, build and output bytes, and how the outputs will be chunked to the host.
 */
export function planKnnPoints(
  count: number,
  k: number,
  options: { features?: boolean; device?: MemoryDevice; f64?: boolean } = {},
): PointQueryPlan {
  const placement = placeKernel({ device: options.device }, undefined, "knn");
  if (!Number.isInteger(count) || count < 0) {
    throw new InvalidArgumentError("count", "an integer >= 0", count);
  }
  checkK(k, "k", MAX_POINT_K);
  const shape = { k, features: options.features ?? false };
  return plan(placement, count, count * 3 * ((options.f64 ?? true) ? 8 : 4), count, shape);
}

interface QueryShape {
  k: unknown;
  argument: string;
  radius: number;
  features: boolean;
}

function pointJob(
  points: CoordinateInput,
  options: KnnPointsOptions,
  label: string,
  shape: QueryShape,
): PointJob {
  const placement = placeKernel(options, points, label);
  if (options.fallback !== undefined && options.fallback !== "none" && options.fallback !== "cpu") {
    throw new InvalidArgumentError("options.fallback", '"none" or "cpu"', options.fallback);
  }
  const excludeSelf = checkBoolean(options.excludeSelf, true, "options.excludeSelf");
  const p = coordinateTriples(points, "points", placement.device);
  const q = options.queries === undefined
    ? null
    : coordinateTriples(options.queries, "options.queries", placement.device);
  if (q !== null) checkSameSide(p, q);
  const k = checkK(shape.k, shape.argument, MAX_POINT_K);
  // A k-nearest query needs k points to find; a radius query takes what lies within.
  if (shape.radius === Infinity) {
    const available = p.count - (q === null && excludeSelf ? 1 : 0);
    if (k > available) {
      throw new InvalidArgumentError(
        shape.argument,
        `at most ${Math.max(available, 0)} (the points to find)`,
        k,
      );
    }
  }
  const selfQueries = q === null;
  return {
    placement,
    points: p,
    queries: q,
    k,
    radius: shape.radius,
    features: shape.features,
    excludeSelf: selfQueries && excludeSelf,
  };
}

/** Checks a neighbour count: an integer from 1 to `max`. */
export function checkK(k: unknown, argument: string, max: number): number {
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > max) {
    throw new InvalidArgumentError(argument, `an integer from 1 to ${max}`, k);
  }
  return k;
}

function checkRadius(radius: unknown, argument: string): void {
  if (typeof radius !== "number" || !(radius >= 0) || !Number.isFinite(radius)) {
    throw new InvalidArgumentError(argument, "a finite number >= 0", radius);
  }
}

let fallbackAnnounced = false;

/** Runs `job`; with fallback "cpu", an OutOfMemoryError on a GPU reruns it on the cpu device. */
async function withFallback<T>(
  job: PointJob,
  options: PointQueryOptions,
  body: (job: PointJob) => Promise<T>,
): Promise<T> {
  try {
    return await body(job);
  } catch (error) {
    const hostInputs = job.points.host !== null;
    if (
      !(error instanceof OutOfMemoryError) || options.fallback !== "cpu" ||
      job.placement.device.kind === "cpu" || !hostInputs
    ) {
      throw error;
    }
    if (!fallbackAnnounced) {
      fallbackAnnounced = true;
      console.error(
        `gpumem: ${job.placement.label} query falls back to the cpu device: ${
          error.message.split("\n")[0]
        }`,
      );
    }
    const placement = placeKernel(
      { device: cpuDevice, label: job.placement.label },
      undefined,
      job.placement.label,
    );
    const retriage = (t: Triples | null) =>
      t === null ? null : coordinateTriples(t.host, t.argument, cpuDevice);
    return await body({
      ...job,
      placement,
      points: retriage(job.points)!,
      queries: retriage(job.queries),
    });
  }
}
