/**
 * Brute-force L2 for vectors of any dimension: `l2Distances` (the Q × N matrix) and `knn` (the
 * k nearest corpus rows of each query, through tiles of distances folded into per-query lists,
 * never the whole matrix). Exact to float rounding: differences, not |a|² + |b|² − 2a·b.
 *
 * @module
 */

import { checkBoolean } from "../validate.ts";
import { BufferBatch } from "../buffers/buffer_batch.ts";
import type { DeviceBuffer } from "../buffers/device_buffer.ts";
import type { TypedDeviceView } from "../buffers/typed_device_view.ts";
import { streamDone } from "../cuda/stream.ts";
import { InvalidArgumentError } from "../errors.ts";
import { type KernelPlacementOptions, placeKernel } from "./kernel_options.ts";
import { callKernel } from "./native_call.ts";
import { checkK } from "./point_queries.ts";
import { fitItems, fits } from "./kernel_memory.ts";
import { tile, upload, type VectorJob } from "./vector_tiles.ts";
import {
  checkDim,
  checkFinite,
  type VectorInput,
  type VectorRows,
  vectorRows,
} from "./vector_input.ts";

/** The largest k of {@linkcode knn} (GM_VECTOR_MAX_K). */
export const MAX_VECTOR_K = 1024;
/** Most query rows one tile launch takes (the CUDA grid's 65535 rows of 128). */
const MAX_TILE_ROWS = 65535 * 128;
/** Largest tile of distances a knn call holds (then halved until the manager can give it). */
const TILE_BYTES = 512 << 20;
const SELECT_FIRST = 1, SELECT_LAST = 2, SELECT_EXCLUDE_SELF = 4;

/**
 * Arithmetic of the distances. "fp32": float accuracy however close two vectors are. The CPU
 * build, and CUDA below 64 dimensions, take float differences; CUDA from 64 dimensions takes
 * |a|² + |b|² − 2a·b on tensor cores with each input split in two tf32 parts (three products a
 * pair, float accumulation), and computes again from differences every squared distance under
 * 1/8 of |a|² + |b|² (near pairs, which then match the CPU build bit for bit); the others stay
 * within 2^-18 of the exact value (2^-22 on centred data). "tf32", "bf16" and "fp16": the same
 * expansion with inputs rounded to that type, products accumulated in float (fastest; a distance
 * far below the norms loses digits, as any expansion's does).
 */
export type Precision = "fp32" | "tf32" | "bf16" | "fp16";

const PRECISION: Record<Precision, number> = { fp32: 0, tf32: 1, bf16: 2, fp16: 3 };

/** Options for {@linkcode l2Distances}. */
export interface L2DistancesOptions extends KernelPlacementOptions {
  /** Numbers per vector. */
  dim: number;
  /** Squared distances (default false). */
  squared?: boolean;
  /** "fp32" (the default), "tf32", "bf16" or "fp16". */
  precision?: Precision;
}

/** Options for {@linkcode knn}. */
export interface KnnOptions extends KernelPlacementOptions {
  /** Numbers per vector. */
  dim: number;
  /** "fp32" (the default), "tf32", "bf16" or "fp16". */
  precision?: Precision;
  /** Skip corpus row i for query i (a self join: queries are the corpus; default false). */
  excludeSelf?: boolean;
}

/** The k nearest corpus rows of each query, on the host: ascending, ties (equal squared distances) by the smaller index. */
export interface Neighbours {
  /** Corpus row indices, queries × k. */
  indices: Int32Array;
  /** Euclidean distances, queries × k. */
  distances: Float32Array;
}

/** Neighbours as owning device buffers (`knn.out.*`), for device inputs. */
export type DeviceNeighbours = { [K in keyof Neighbours]: DeviceBuffer };

/** What {@linkcode planKnn} says a knn call will take. */
export interface KnnPlan {
  /** Query rows a launch takes. */
  queryChunk: number;
  /** Corpus rows a tile takes. */
  corpusChunk: number;
  /** Bytes of the distance tile. */
  tileBytes: number;
  /** Bytes of the inputs once on the device (0 for device inputs). */
  inputBytes: number;
  /** Bytes of the outputs. */
  outputBytes: number;
  /** Most bytes the call holds at once. */
  peakBytes: number;
  /** Tile launches. */
  launches: number;
}

/**
 * Distances from every query row to every corpus row, row-major (queries × corpus). Host arrays
 * in: a Float32Array out; device views in: a device buffer (`l2.out.distances`) out. Float64
 * inputs are centred on the corpus mean before they are rounded to float.
 *
 * @example
 * ```ts
 * import { l2Distances } from "@gpumem/gpumem";
 * const d = await l2Distances(Float32Array.of(0, 0), Float32Array.of(3, 4, 0, 1), { dim: 2 });
 * console.log(d); // Float32Array [5, 1]
 * ```
 */
export function l2Distances(
  queries: Float32Array | Float64Array,
  corpus: Float32Array | Float64Array,
  options: L2DistancesOptions,
): Promise<Float32Array>;
/** Device views in: a device buffer out. */
export function l2Distances(
  queries: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
  corpus: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
  options: L2DistancesOptions,
): Promise<DeviceBuffer>;
export async function l2Distances(
  queries: VectorInput,
  corpus: VectorInput,
  options: L2DistancesOptions,
): Promise<Float32Array | DeviceBuffer> {
  const job = vectorJob(queries, corpus, options, "l2");
  const squared = checkBoolean(options.squared, false, "options.squared");
  const { q, c, placement } = job;
  const { device, stream, label } = placement;
  using batch = new BufferBatch({ device, stream });
  const inputs = await upload(job, batch);
  const rowBytes = c.rows * 4;
  if (q.host === null) {
    const out = batch.allocate(q.rows * rowBytes, { label: `${label}.out.distances` });
    for (let start = 0; start < q.rows; start += MAX_TILE_ROWS) {
      const n = Math.min(MAX_TILE_ROWS, q.rows - start);
      await tile(
        job,
        inputs,
        start,
        n,
        0,
        c.rows,
        squared,
        out.ptr + BigInt(start * rowBytes),
        c.rows,
      );
    }
    await streamDone(stream);
    return batch.release(out);
  }
  const result = new Float32Array(q.rows * c.rows);
  if (result.length === 0) return result;
  const rows = Math.min(q.rows, MAX_TILE_ROWS);
  const chunk = fitItems(placement.device, rows, 1, (n) => n * rowBytes, "an L2 matrix");
  const out = batch.allocate(chunk * rowBytes, { label: `${label}.out.distances` });
  for (let start = 0; start < q.rows; start += chunk) {
    const n = Math.min(chunk, q.rows - start);
    await tile(job, inputs, start, n, 0, c.rows, squared, out.ptr, c.rows);
    await streamDone(stream);
    out.view(0, n * rowBytes).copyToHost(result.subarray(start * c.rows, (start + n) * c.rows));
  }
  return result;
}

/**
 * The k nearest corpus rows of each query row (exact; ascending by squared distance, ties by the smaller index),
 * through tiles of distances the manager can hold, never the whole matrix. k from 1 to 1024 and
 * at most the corpus rows (less one with excludeSelf).
 *
 * @example
 * ```ts
 * import { knn } from "@gpumem/gpumem";
 * const corpus = Float32Array.of(0, 0, 10, 0, 1, 1);
 * const { indices } = await knn(Float32Array.of(0.9, 0.9), corpus, 2, { dim: 2 });
 * console.log(indices); // Int32Array [2, 0]
 * ```
 */
export function knn(
  queries: Float32Array | Float64Array,
  corpus: Float32Array | Float64Array,
  k: number,
  options: KnnOptions,
): Promise<Neighbours>;
/** Device views in: device buffers out. */
export function knn(
  queries: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
  corpus: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
  k: number,
  options: KnnOptions,
): Promise<DeviceNeighbours>;
export async function knn(
  queries: VectorInput,
  corpus: VectorInput,
  k: number,
  options: KnnOptions,
): Promise<Neighbours | DeviceNeighbours> {
  const job = vectorJob(queries, corpus, options, "knn");
  const excludeSelf = checkBoolean(options.excludeSelf, false, "options.excludeSelf");
  checkK(k, "k", MAX_VECTOR_K);
  const available = job.c.rows - (excludeSelf ? 1 : 0);
  if (k > available) {
    throw new InvalidArgumentError(
      "k",
      `at most ${Math.max(available, 0)} (the corpus rows to find)`,
      k,
    );
  }
  const { q, c, placement } = job;
  const { device, stream, label } = placement;
  const planned = planFor(job, k);
  using batch = new BufferBatch({ device, stream });
  const inputs = await upload(job, batch);
  const bestD = batch.allocate(q.rows * k * 4, { label: `${label}.out.distances` });
  const bestI = batch.allocate(q.rows * k * 4, { label: `${label}.out.indices` });
  const tileBuffer = batch.allocate(planned.tileBytes, { label: `${label}.tile` });
  const flagsFor = (start: number) =>
    (start === 0 ? SELECT_FIRST : 0) | (start + planned.corpusChunk >= c.rows ? SELECT_LAST : 0) |
    (excludeSelf ? SELECT_EXCLUDE_SELF : 0);
  for (let qs = 0; qs < q.rows; qs += planned.queryChunk) {
    const qn = Math.min(planned.queryChunk, q.rows - qs);
    for (let cs = 0; cs < c.rows; cs += planned.corpusChunk) {
      const cn = Math.min(planned.corpusChunk, c.rows - cs);
      await tile(job, inputs, qs, qn, cs, cn, true, tileBuffer.ptr, cn);
      await callKernel(
        device,
        "gm_knn_select",
        device.ordinal,
        tileBuffer.ptr,
        BigInt(cn),
        BigInt(qn),
        BigInt(cn),
        BigInt(cs),
        BigInt(qs),
        k,
        flagsFor(cs),
        bestD.ptr + BigInt(qs * k * 4),
        bestI.ptr + BigInt(qs * k * 4),
        stream.handle,
      );
    }
    // One chunk's work at a time on the stream: the loop never runs far ahead of the device.
    await streamDone(stream);
  }
  if (q.host === null) return { indices: batch.release(bestI), distances: batch.release(bestD) };
  return {
    indices: bestI.copyToHost(new Int32Array(q.rows * k)),
    distances: bestD.copyToHost(new Float32Array(q.rows * k)),
  };
}

/** What a knn call of these sizes will take on the device (sizes only; nothing is allocated). */
export function planKnn(
  queryCount: number,
  corpusCount: number,
  k: number,
  options: { dim: number; f64?: boolean; hostInputs?: boolean } & KernelPlacementOptions,
): KnnPlan {
  const placement = placeKernel({ device: options.device }, undefined, "knn");
  const dim = checkDim(options.dim);
  for (const [name, value] of [["queryCount", queryCount], ["corpusCount", corpusCount]] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new InvalidArgumentError(name, "an integer >= 0", value);
    }
  }
  checkK(k, "k", MAX_VECTOR_K);
  const shape = (rows: number): VectorRows => ({
    argument: "",
    host: (options.hostInputs ?? true) ? new Float32Array(0) : null,
    view: null,
    rows,
    dim,
    f64: options.f64 ?? false,
  });
  return planFor({ q: shape(queryCount), c: shape(corpusCount), placement, precision: 0 }, k);
}

function vectorJob(
  queries: VectorInput,
  corpus: VectorInput,
  options: L2DistancesOptions | KnnOptions,
  label: string,
): VectorJob {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError("options", "an options object with dim", options);
  }
  const placement = placeKernel(options, queries, label);
  const dim = checkDim(options.dim);
  const precision = options.precision ?? "fp32";
  if (typeof precision !== "string" || !(precision in PRECISION)) {
    throw new InvalidArgumentError(
      "options.precision",
      '"fp32", "tf32", "bf16" or "fp16"',
      precision,
    );
  }
  const q = vectorRows(queries, "queries", dim, placement.device);
  const c = vectorRows(corpus, "corpus", dim, placement.device);
  if ((q.host === null) !== (c.host === null) || q.f64 !== c.f64) {
    throw new InvalidArgumentError(
      "corpus",
      `${q.host === null ? "device memory" : "a host array"} of ${
        q.f64 ? "float64" : "float32"
      }, as queries`,
      `${c.host === null ? "device memory" : "a host array"} of ${c.f64 ? "float64" : "float32"}`,
    );
  }
  checkFinite(q);
  checkFinite(c);
  return { q, c, placement, precision: PRECISION[precision as Precision] };
}

function planFor(job: VectorJob, k: number): KnnPlan {
  const { q, c, placement } = job;
  const inputBytes = q.host === null ? 0 : (q.rows + c.rows) * q.dim * (q.f64 ? 8 : 4);
  const outputBytes = q.rows * k * 8;
  const queryChunk = Math.max(1, Math.min(q.rows, MAX_TILE_ROWS));
  let corpusChunk = Math.max(1, Math.min(c.rows, Math.floor(TILE_BYTES / 4 / queryChunk) || 1));
  const fixed = inputBytes + outputBytes + 8 * q.dim;
  while (corpusChunk > 256 && !fits(placement.device, fixed + queryChunk * corpusChunk * 4)) {
    corpusChunk = Math.ceil(corpusChunk / 2);
  }
  const tileBytes = queryChunk * corpusChunk * 4;
  return {
    queryChunk,
    corpusChunk,
    tileBytes,
    inputBytes,
    outputBytes,
    peakBytes: fixed + tileBytes,
    launches: Math.ceil(q.rows / queryChunk) * Math.ceil(Math.max(c.rows, 1) / corpusChunk),
  };
}
