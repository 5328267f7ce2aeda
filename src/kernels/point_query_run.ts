/**
 * Running a checked point query: the index built, outputs allocated (in chunks the manager can
 * give when they go to the host), the queries launched and the results gathered.
 *
 * @module
 */

import { BufferBatch } from "../buffers/buffer_batch.ts";
import type { DeviceBuffer } from "../buffers/device_buffer.ts";
import { streamDone } from "../cuda/stream.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { KernelPlacement } from "./kernel_options.ts";
import { fits, requireBytes } from "./kernel_memory.ts";
import { uploadForKernel } from "./kernel_upload.ts";
import { callKernel } from "./native_call.ts";
import { orderPoints, planPointIndex, PointIndex } from "./point_index.ts";
import {
  EXCLUDE_SELF,
  FEATURE_FLOATS,
  type PointFeatures,
  type PointJob,
  type PointQueryPlan,
  type RadiusNeighbours,
} from "./point_query_types.ts";

interface OutputShape {
  k: number;
  features: boolean;
}

function bytesPerQuery(shape: OutputShape): number {
  return shape.k * 8 + 4 + (shape.features ? FEATURE_FLOATS * 4 : 0);
}

/** Points a chunked upload takes at a time: 4M float64 points, 96 MiB of staging. */
const UPLOAD_CHUNK_POINTS = 4 << 20;

/** What a query of `queryCount` over `count` points needs, and how its outputs will be chunked. */
export function plan(
  placement: KernelPlacement,
  count: number,
  inputBytes: number,
  queryCount: number,
  shape: OutputShape,
): PointQueryPlan {
  // The build holds the upload, the order, the ordering scratch and the index at once (see
  // PointIndex.build). The index's size past its sorted points depends on the leaves, known only
  // once sorted: the build check counts none (a lower bound: it refuses only what cannot fit),
  // the chunk plan one leaf per 8 points (leaves hold 1 to 32, about 20 on LiDAR tiles).
  const sorted = planPointIndex(placement, count, 0);
  const indexBytes = planPointIndex(placement, count, Math.ceil(count / 8)).indexBytes + 64;
  const fitsNow = (bytes: number) => fits(placement.device, bytes);
  const steps = 4 * count + 8 + 64 + sorted.orderScratchBytes + sorted.indexBytes;
  let buildBytes = inputBytes + steps;
  let uploadChunkPoints = 0;
  if (!fitsNow(buildBytes) && inputBytes === 24 * count && count >= 4) {
    // Host float64 coordinates that do not fit whole go up in chunks (at least four), as float
    // offsets (12 B a point instead of 24): the chunk and the offsets, then the offsets and the
    // steps.
    const chunk = Math.min(UPLOAD_CHUNK_POINTS, Math.ceil(count / 4));
    const centred = Math.max(24 * chunk + 12 * count + 128, 12 * count + steps);
    if (fitsNow(centred)) {
      buildBytes = centred;
      uploadChunkPoints = chunk;
    }
  }
  const perQuery = bytesPerQuery(shape);
  let chunk = Math.max(queryCount, 1);
  while (chunk > 1024 && !fitsNow(indexBytes + chunk * perQuery)) chunk = Math.ceil(chunk / 2);
  const peakBytes = Math.max(buildBytes + 64, indexBytes + chunk * perQuery);
  return {
    indexBytes,
    buildBytes,
    uploadChunkPoints,
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

/** Runs `job`: host arrays in give host arrays out; device views, device buffers. */
// deno-lint-ignore no-explicit-any
export async function run(job: PointJob): Promise<any> {
  const { placement } = job;
  const { device, stream, label } = placement;
  const queryCount = job.queries?.count ?? job.points.count;
  const shape = { k: job.k, features: job.features };
  const inputBytes = job.points.host === null ? 0 : job.points.host.byteLength;
  const planned = plan(placement, job.points.count, inputBytes, queryCount, shape);
  requireBytes(device, planned.buildBytes, `indexing ${job.points.count} points`);
  using index = await PointIndex.build(
    placement,
    job.points,
    planned.uploadChunkPoints > 0 ? planned.uploadChunkPoints : undefined,
  );
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
  if (host.features !== null) return host.features.arrays;
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
  /** The feature arrays and the one block they view, for feature queries. */
  features: { arrays: PointFeatures; floats: Float32Array } | null;
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
    features: floats === null ? null : { arrays: featureViews(floats, count), floats },
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
  const all = host.features!.floats;
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
