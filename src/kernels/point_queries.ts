/**
 * Nearest neighbours of 3-D points (the LiDAR case): `knnPoints`, `radiusSearch` and
 * `pointFeatures` over a {@linkcode PointIndex}, with outputs cut into chunks the manager can
 * give and an optional fallback to the cpu device when the device cannot.
 *
 * @module
 */

import { BufferBatch } from "../buffers/buffer_batch.ts";
import type { DeviceBuffer } from "../buffers/device_buffer.ts";
import type { TypedDeviceView } from "../buffers/typed_device_view.ts";
import { streamDone } from "../cuda/stream.ts";
import { cpuDevice } from "../device/cpu_device.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError, OutOfMemoryError } from "../errors.ts";
import { getMemoryManager } from "../manager/memory_manager.ts";
import {
  type KernelPlacement,
  type KernelPlacementOptions,
  placeKernel,
} from "./kernel_options.ts";
import { uploadForKernel } from "./kernel_upload.ts";
import {
  checkSameSide,
  type CoordinateInput,
  coordinateTriples,
  type Triples,
} from "./mesh_input.ts";
import { callKernel } from "./native_call.ts";
import { orderPoints, planPointIndex, PointIndex } from "./point_index.ts";

/** The largest k (and maxNeighbours) of a point query (GM_POINT_MAX_K). */
export const MAX_POINT_K = 256;
/** Floats of features a query (GM_FEATURE_FLOATS). */
const FEATURE_FLOATS = 11;
const EXCLUDE_SELF = 1;

/** Options every point query takes. */
export interface PointQueryOptions extends KernelPlacementOptions {
  /**
   * Where a query that the device cannot hold runs: "none" (default) throws the manager's
   * OutOfMemoryError; "cpu" runs it on the cpu device instead (host arrays only), and says so
   * once on stderr.
   */
  fallback?: "none" | "cpu";
}

/** Options for {@linkcode knnPoints}. */
export interface KnnPointsOptions extends PointQueryOptions {
  /** Query points (default: the cloud itself, each point's neighbours without itself). */
  queries?: CoordinateInput;
  /** For self queries, whether a point is left out of its own neighbours (default true). */
  excludeSelf?: boolean;
}

/** Options for {@linkcode radiusSearch}. */
export interface RadiusSearchOptions extends KnnPointsOptions {
  /** Neighbours kept per query, the nearest first (default 32, at most 256). */
  maxNeighbours?: number;
}

/** Options for {@linkcode pointFeatures}: a neighbourhood of `k` points, or within `radius`. */
export interface PointFeaturesOptions extends PointQueryOptions {
  /** Neighbourhood: the point and its k − 1 nearest others (as a k-d tree's query of k). */
  k?: number;
  /** Neighbourhood: the points within this distance (the nearest maxNeighbours of them). */
  radius?: number;
  /** With `radius`: most points in a neighbourhood (default 64, at most 256). */
  maxNeighbours?: number;
}

/** Neighbours on the host: row i holds query i's, nearest first, ties by the smaller index. */
export interface PointNeighbours {
  /** Indices into the cloud, queries × k (−1 past the neighbours found). */
  indices: Int32Array;
  /** Euclidean distances, queries × k (Infinity past the neighbours found). */
  distances: Float32Array;
}

/** Radius-search results on the host. */
export interface RadiusNeighbours extends PointNeighbours {
  /** Neighbours found per query (at most maxNeighbours). */
  counts: Int32Array;
}

/** Per-point features of the neighbourhood covariance (as ign_lidar computes them). */
export interface PointFeatures {
  /** Unit normal (the smallest eigenvalue's vector), xyz per point, oriented toward +z. */
  normal: Float32Array;
  /** Eigenvalues λ1 ≥ λ2 ≥ λ3 of the covariance (divided by the neighbourhood's size), per point. */
  eigenvalues: Float32Array;
  /** (λ1 − λ2) / λ1 (0 for a neighbourhood of one repeated point, as the three below). */
  linearity: Float32Array;
  /** (λ2 − λ3) / λ1. */
  planarity: Float32Array;
  /** λ3 / λ1. */
  sphericity: Float32Array;
  /** 1 − |normal z|. */
  verticality: Float32Array;
  /** Change of curvature λ3 / (λ1 + λ2 + λ3). */
  changeOfCurvature: Float32Array;
}

/** Neighbours as owning device buffers (labelled `knn.out.*`), for device inputs. */
export type DevicePointNeighbours = { [K in keyof PointNeighbours]: DeviceBuffer };
/** Radius-search results as owning device buffers. */
export type DeviceRadiusNeighbours = { [K in keyof RadiusNeighbours]: DeviceBuffer };
/** Features in one owning device buffer (`buffer`), with a typed view of each. */
export type DevicePointFeatures =
  & { buffer: DeviceBuffer }
  & { [K in keyof PointFeatures]: TypedDeviceView<Float32Array> };

/** What {@linkcode planKnnPoints} says a call will take. */
export interface PointQueryPlan {
  /** Bytes of the index (sorted points, tree boxes, frame). */
  indexBytes: number;
  /** Most bytes held while the index is built (input, Morton codes, sort storage, order). */
  buildBytes: number;
  /** Output bytes per query. */
  bytesPerQuery: number;
  /** Queries per chunk when the outputs go to the host. */
  chunkQueries: number;
  /** Chunks the queries are cut into. */
  chunks: number;
  /** Most bytes the call holds at once. */
  peakBytes: number;
  /** Whether the manager can give that now. */
  fits: boolean;
}

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

interface PointJob {
  placement: KernelPlacement;
  points: Triples;
  queries: Triples | null;
  k: number;
  radius: number;
  features: boolean;
  excludeSelf: boolean;
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
  const excludeSelf = options.excludeSelf ?? true;
  if (typeof excludeSelf !== "boolean") {
    throw new InvalidArgumentError("options.excludeSelf", "a boolean", excludeSelf);
  }
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

interface OutputShape {
  k: number;
  features: boolean;
}

function bytesPerQuery(shape: OutputShape): number {
  return shape.k * 8 + 4 + (shape.features ? FEATURE_FLOATS * 4 : 0);
}

function plan(
  placement: KernelPlacement,
  count: number,
  inputBytes: number,
  queryCount: number,
  shape: OutputShape,
): PointQueryPlan {
  const index = planPointIndex(placement, count);
  const indexBytes = index.indexBytes + 64;
  const buildBytes = inputBytes + 4 * count + 8 +
    Math.max(index.orderScratchBytes, index.indexBytes);
  const perQuery = bytesPerQuery(shape);
  const manager = getMemoryManager();
  const fitsNow = (bytes: number) => manager.canAllocate(Math.max(bytes, 1), placement.device);
  let chunk = Math.max(queryCount, 1);
  while (chunk > 1024 && !fitsNow(indexBytes + chunk * perQuery)) chunk = Math.ceil(chunk / 2);
  const peakBytes = Math.max(buildBytes + 64, indexBytes + chunk * perQuery);
  return {
    indexBytes,
    buildBytes,
    bytesPerQuery: perQuery,
    chunkQueries: chunk,
    chunks: queryCount === 0 ? 0 : Math.ceil(queryCount / chunk),
    peakBytes,
    fits: fitsNow(peakBytes),
  };
}

/** Output arrays of one launch (addresses; 0 where not wanted). */
interface Outputs {
  indices: DeviceBuffer;
  distances: DeviceBuffer;
  counts: DeviceBuffer;
  features: DeviceBuffer | null;
}

function allocateOutputs(batch: BufferBatch, label: string, count: number, job: PointJob): Outputs {
  const l = (name: string) => ({ label: `${label}.out.${name}` });
  return {
    indices: batch.allocate(count * job.k * 4, l("indices")),
    distances: batch.allocate(count * job.k * 4, l("distances")),
    counts: batch.allocate(count * 4, l("counts")),
    features: job.features ? batch.allocate(count * FEATURE_FLOATS * 4, l("features")) : null,
  };
}

const address = (b: DeviceBuffer | null) => b !== null && b.byteLength > 0 ? b.ptr : 0n;

async function launch(
  job: PointJob,
  index: PointIndex,
  queries: { address: bigint; order: bigint; count: number } | null,
  range: [number, number],
  out: Outputs,
): Promise<void> {
  const { device, stream } = job.placement;
  await callKernel(
    device,
    "gm_points_query",
    device.ordinal,
    index.words,
    queries?.address ?? 0n,
    job.queries?.f64 ? 1 : 0,
    BigInt(queries?.count ?? index.count),
    queries?.order ?? 0n,
    job.k,
    job.radius === Infinity ? Infinity : job.radius * job.radius,
    job.excludeSelf ? EXCLUDE_SELF : 0,
    BigInt(range[0]),
    BigInt(range[1]),
    address(out.indices),
    address(out.distances),
    address(out.counts),
    address(out.features),
    stream.handle,
  );
}

// deno-lint-ignore no-explicit-any
async function run(job: PointJob): Promise<any> {
  const { placement } = job;
  const { device, stream, label } = placement;
  const queryCount = job.queries?.count ?? job.points.count;
  const shape = { k: job.k, features: job.features };
  const inputBytes = job.points.host === null ? 0 : job.points.host.byteLength;
  const planned = plan(placement, job.points.count, inputBytes, queryCount, shape);
  const manager = getMemoryManager();
  if (!manager.canAllocate(Math.max(planned.buildBytes, 1), device)) {
    const { free, total } = device.memInfo();
    throw new OutOfMemoryError(
      { requestedBytes: planned.buildBytes, device: device.id, freeBytes: free, totalBytes: total },
      [`indexing ${job.points.count} points needs ${planned.buildBytes} B at once`],
    );
  }
  using index = await PointIndex.build(placement, job.points);
  using batch = new BufferBatch({ device, stream });
  const deviceOut = job.points.host === null;
  if (deviceOut) {
    const out = allocateOutputs(batch, label, queryCount, job);
    const queries = job.queries === null
      ? null
      : await orderQueries(job, index, batch, job.queries.view!.ptr, queryCount);
    await launch(job, index, queries, [0, queryCount], out);
    await streamDone(stream);
    return deviceResults(batch, out, queryCount, job);
  }
  const host = hostResults(queryCount, job);
  const chunk = planned.chunkQueries;
  const out = allocateOutputs(batch, label, Math.min(chunk, queryCount), job);
  const queryInput = job.queries === null
    ? null
    : batch.allocate(Math.min(chunk, queryCount) * 3 * (job.queries.f64 ? 8 : 4), {
      label: `${label}.query.inputs`,
    });
  for (let start = 0; start < queryCount; start += chunk) {
    const n = Math.min(chunk, queryCount - start);
    let queries = null;
    if (queryInput !== null) {
      const source = job.queries!.host! as Float32Array | Float64Array;
      await uploadForKernel(queryInput, source.subarray(3 * start, 3 * (start + n)));
      queries = await orderQueries(job, index, batch, queryInput.ptr, n);
    }
    await launch(job, index, queries, queries === null ? [start, start + n] : [0, n], out);
    await streamDone(stream);
    copyChunk(out, host, start, n, queryCount, job);
  }
  if (job.features) return host.features;
  const { indices, distances, counts } = host.neighbours;
  return job.radius === Infinity ? { indices, distances } : { indices, distances, counts };
}

/** Queries in the index's Morton order (nearby queries walk nearby nodes together). */
async function orderQueries(
  job: PointJob,
  index: PointIndex,
  batch: BufferBatch,
  address: bigint,
  count: number,
): Promise<{ address: bigint; order: bigint; count: number }> {
  const order = batch.allocate(4 * count, { label: `${job.placement.label}.query.order` });
  const ordering = await orderPoints(
    job.placement,
    batch,
    address,
    count,
    job.queries!.f64,
    index.frame,
    order.ptr,
  );
  await streamDone(job.placement.stream);
  const bad = ordering.nonfinite.copyToHost(new BigUint64Array(1))[0];
  batch.release(ordering.nonfinite).free();
  batch.release(ordering.scratch).free();
  if (bad > 0n) {
    throw new InvalidArgumentError(
      "options.queries",
      "finite coordinates within float range of the cloud's centre",
      `${bad} that are not`,
    );
  }
  return { address, order: order.ptr, count };
}

interface HostResults {
  neighbours: RadiusNeighbours;
  features: PointFeatures;
  featureFloats: Float32Array | null;
}

function hostResults(count: number, job: PointJob): HostResults {
  const neighbours = {
    indices: new Int32Array(count * job.k),
    distances: new Float32Array(count * job.k),
    counts: new Int32Array(count),
  };
  const floats = job.features ? new Float32Array(count * FEATURE_FLOATS) : null;
  return {
    neighbours,
    features: floats === null ? null! : featureViews(floats, count),
    featureFloats: floats,
  };
}

/**
 * Where each feature lies in a block of FEATURE_FLOATS × count floats (GM_FEATURE_FLOATS in
 * csrc/knn/point_index.h): its first array of `count` floats, and its floats a point.
 */
const FEATURE_LAYOUT: readonly (readonly [keyof PointFeatures, number, number])[] = [
  ["normal", 0, 3],
  ["eigenvalues", 3, 3],
  ["linearity", 6, 1],
  ["planarity", 7, 1],
  ["sphericity", 8, 1],
  ["verticality", 9, 1],
  ["changeOfCurvature", 10, 1],
];

/** Each feature of a block over `count` points, made by `part(offset, length)` in floats. */
function featureParts<T>(count: number, part: (offset: number, length: number) => T) {
  return Object.fromEntries(
    FEATURE_LAYOUT.map(([name, at, width]) => [name, part(at * count, width * count)]),
  ) as { [K in keyof PointFeatures]: T };
}

/** The feature arrays inside one host block. */
function featureViews(floats: Float32Array, count: number): PointFeatures {
  return featureParts(count, (offset, length) => floats.subarray(offset, offset + length));
}

function copyChunk(
  out: Outputs,
  host: HostResults,
  start: number,
  n: number,
  total: number,
  job: PointJob,
): void {
  const k = job.k;
  const { indices, distances, counts } = host.neighbours;
  out.indices.copyToHost(indices.subarray(start * k, (start + n) * k));
  out.distances.copyToHost(distances.subarray(start * k, (start + n) * k));
  out.counts.copyToHost(counts.subarray(start, start + n));
  if (out.features === null) return;
  // The chunk's block has the same layout over n queries: copy each array into its place.
  const chunk = out.features.copyToHost(new Float32Array(n * FEATURE_FLOATS));
  const all = host.featureFloats!;
  for (const [, offset, width] of FEATURE_LAYOUT) {
    all.set(chunk.subarray(offset * n, offset * n + width * n), offset * total + width * start);
  }
}

// deno-lint-ignore no-explicit-any
function deviceResults(batch: BufferBatch, out: Outputs, count: number, job: PointJob): any {
  if (!job.features) {
    const neighbours = {
      indices: batch.release(out.indices),
      distances: batch.release(out.distances),
    };
    // Counts are radiusSearch's; knnPoints leaves them to the batch.
    return job.radius === Infinity
      ? neighbours
      : { ...neighbours, counts: batch.release(out.counts) };
  }
  const buffer = batch.release(out.features!);
  return {
    buffer,
    ...featureParts(count, (offset, length) => buffer.typed(Float32Array, offset, length)),
  };
}
