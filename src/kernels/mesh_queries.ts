/**
 * Running BVH queries: inputs checked, outputs allocated, and large host query sets cut into
 * chunks whose device memory fits what the manager can give (checked before allocating).
 *
 * @module
 */

import { BufferBatch } from "../buffers/buffer_batch.ts";
import { checkBoolean, checkOptions } from "../validate.ts";
import type { DeviceBuffer } from "../buffers/device_buffer.ts";
import type { Stream } from "../cuda/stream.ts";
import { streamDone } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";
import { GpumemError, InvalidArgumentError } from "../errors.ts";
import {
  checkSameSide,
  type CoordinateInput,
  coordinateTriples,
  type Triples,
} from "./mesh_input.ts";
import { validateTriples } from "./mesh_validate.ts";
import { callKernel, hostAddress } from "./native_call.ts";
import { fitItems } from "./kernel_memory.ts";
import { kernelLibrary } from "./library.ts";

/** Options for {@linkcode MeshBvh.closestPoints}. */
export interface ClosestPointsOptions {
  /** Only triangles within this distance count (default Infinity); farther: faceId −1. */
  maxDistance?: number;
}

/** How a signed distance gets its sign. */
export type SignMode = "pseudonormal" | "winding" | "parity";

/** Options for {@linkcode MeshBvh.signedDistance}. */
export interface SignedDistanceOptions {
  /** The sign test (default "pseudonormal"). */
  sign?: SignMode;
}

/** Options for {@linkcode MeshBvh.rayCast}. */
export interface RayCastOptions {
  /** Hits beyond this ray parameter are ignored (default Infinity). */
  tMax?: number;
  /** Stop at the first hit found rather than the nearest (default false). */
  anyHit?: boolean;
}

/** Closest points, on the host. */
export interface ClosestPoints {
  /** Euclidean distance per point (Infinity where no triangle lies within maxDistance). */
  distance: Float32Array;
  /** Input index of the closest triangle, −1 where none lies within maxDistance. */
  faceId: Int32Array;
  /** The closest point, xyz per point (NaN where none). */
  point: Float32Array;
  /** Barycentric weights of the closest triangle's vertices a, b, c per point (NaN where none). */
  barycentric: Float32Array;
}

/** Signed distances, on the host. */
export interface SignedDistances {
  /** Distance per point, negative inside. */
  distance: Float32Array;
  /** Input index of the closest triangle. */
  faceId: Int32Array;
}

/** Ray hits, on the host. */
export interface RayHits {
  /** Ray parameter of the hit, Infinity on a miss. */
  t: Float32Array;
  /** Input index of the triangle hit, −1 on a miss. */
  faceId: Int32Array;
  /** Barycentric weights of the hit triangle's a, b, c per ray (NaN on a miss). */
  barycentric: Float32Array;
}

/** The same results as owning device buffers (labelled `bvh.out.*`), for device inputs. */
export type DeviceClosestPoints = { [K in keyof ClosestPoints]: DeviceBuffer };
/** Signed distances as owning device buffers. */
export type DeviceSignedDistances = { [K in keyof SignedDistances]: DeviceBuffer };
/** Ray hits as owning device buffers. */
export type DeviceRayHits = { [K in keyof RayHits]: DeviceBuffer };

/** What a query needs of its BVH. */
export interface QueryTarget {
  readonly device: MemoryDevice;
  readonly stream: Stream;
  readonly label: string;
  readonly words: BigUint64Array;
  readonly frame: Float64Array;
}

interface OutputSpec {
  name: string;
  type: Float32ArrayConstructor | Int32ArrayConstructor;
  components: 1 | 3;
}

/** Addresses of one chunk: its inputs and outputs (0 where an output is not wanted). */
interface Chunk {
  count: number;
  inputs: bigint[];
  outputs: bigint[];
  scratch: bigint;
  scratchBytes: bigint;
  status: bigint;
}

/** Largest chunk of a host query set on a device: bounds the device memory a call holds. */
const MAX_CHUNK = 1 << 24;
/** Status bits (enum gm_bvh_query_status). */
const STACK_OVERFLOW = 1;

const SIGN_MODE: Record<SignMode, number> = { pseudonormal: 1, winding: 2, parity: 3 };

const CLOSEST_OUTPUTS: OutputSpec[] = [
  { name: "distance", type: Float32Array, components: 1 },
  { name: "faceId", type: Int32Array, components: 1 },
  { name: "point", type: Float32Array, components: 3 },
  { name: "barycentric", type: Float32Array, components: 3 },
];
const RAY_OUTPUTS: OutputSpec[] = [
  { name: "t", type: Float32Array, components: 1 },
  { name: "faceId", type: Int32Array, components: 1 },
  { name: "barycentric", type: Float32Array, components: 3 },
];

/** Closest points (sign null) or signed distances of `points`. */
export async function runClosest(
  target: QueryTarget,
  points: CoordinateInput,
  options: ClosestPointsOptions & SignedDistanceOptions,
  sign: SignMode | null,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  checkOptions(options);
  const limit = options.maxDistance ?? Infinity;
  if (sign === null && !(typeof limit === "number" && limit >= 0)) {
    throw new InvalidArgumentError("options.maxDistance", "a number >= 0 or Infinity", limit);
  }
  if (sign !== null && !(sign in SIGN_MODE)) {
    throw new InvalidArgumentError("options.sign", '"pseudonormal", "winding" or "parity"', sign);
  }
  const p = coordinateTriples(points, "points", target.device);
  const outputs = sign === null ? CLOSEST_OUTPUTS : CLOSEST_OUTPUTS.slice(0, 2);
  return await run(target, "closest", [p], outputs, (device, chunk) =>
    callKernel(
      device,
      "gm_bvh_closest",
      device.ordinal,
      target.words,
      target.frame,
      chunk.inputs[0],
      p.f64 ? 1 : 0,
      BigInt(chunk.count),
      limit,
      sign === null ? 0 : SIGN_MODE[sign],
      chunk.outputs[0],
      chunk.outputs[1],
      chunk.outputs[2] ?? 0n,
      chunk.outputs[3] ?? 0n,
      chunk.scratch,
      chunk.scratchBytes,
      chunk.status,
      target.stream.handle,
    ));
}

/** Ray casts of `origins` along `directions`. */
export async function runRays(
  target: QueryTarget,
  origins: CoordinateInput,
  directions: CoordinateInput,
  options: RayCastOptions,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  checkOptions(options);
  const tMax = options.tMax ?? Infinity;
  if (!(typeof tMax === "number" && tMax >= 0)) {
    throw new InvalidArgumentError("options.tMax", "a number >= 0 or Infinity", tMax);
  }
  const anyHit = checkBoolean(options.anyHit, false, "options.anyHit");
  const o = coordinateTriples(origins, "origins", target.device);
  const d = coordinateTriples(directions, "directions", target.device);
  checkSameSide(o, d);
  if (o.count !== d.count || o.f64 !== d.f64) {
    throw new InvalidArgumentError(
      "directions",
      `${o.count} ${o.f64 ? "float64" : "float32"} triples, as origins`,
      `${d.count} ${d.f64 ? "float64" : "float32"} triples`,
    );
  }
  return await run(target, "rays", [o, d], RAY_OUTPUTS, (device, chunk) =>
    callKernel(
      device,
      "gm_bvh_ray",
      device.ordinal,
      target.words,
      target.frame,
      chunk.inputs[0],
      chunk.inputs[1],
      o.f64 ? 1 : 0,
      BigInt(chunk.count),
      tMax,
      anyHit ? 1 : 0,
      chunk.outputs[0],
      chunk.outputs[1],
      chunk.outputs[2],
      chunk.scratch,
      chunk.scratchBytes,
      chunk.status,
      target.stream.handle,
    ));
}

type Launch = (device: MemoryDevice, chunk: Chunk) => Promise<void>;

/** Which kernel a launch runs: their scratch differs (rays keep their input order). */
type QueryKind = "closest" | "rays";

async function run(
  target: QueryTarget,
  kind: QueryKind,
  inputs: Triples[],
  outputs: OutputSpec[],
  launch: Launch,
): Promise<Record<string, ArrayBufferView | DeviceBuffer>> {
  const first = inputs[0];
  for (const input of inputs) {
    if (input.host !== null) await validateTriples(target.device, input, null, target.stream);
  }
  if (first.host === null) return await runOnDevice(target, kind, inputs, outputs, launch);
  const results: Record<string, Float32Array | Int32Array> = {};
  for (const o of outputs) results[o.name] = new o.type(first.count * o.components);
  if (first.count === 0) return results;
  if (target.device.kind === "cpu") {
    // Host memory is the cpu device's memory: the kernels read and write the arrays in place.
    const status = new Uint32Array(1);
    await launch(target.device, {
      count: first.count,
      inputs: inputs.map((i) => hostAddress(i.host!)),
      outputs: outputs.map((o) => hostAddress(results[o.name])),
      scratch: 0n,
      scratchBytes: 0n,
      status: hostAddress(status),
    });
    checkStatus(status[0]);
    return results;
  }
  await runHostChunks(target, kind, inputs, outputs, results, launch);
  return results;
}

/** Device inputs: outputs in new device buffers, one launch (its scratch checked first). */
async function runOnDevice(
  target: QueryTarget,
  kind: QueryKind,
  inputs: Triples[],
  outputs: OutputSpec[],
  launch: Launch,
): Promise<Record<string, DeviceBuffer>> {
  const { device, stream, label } = target;
  const count = inputs[0].count;
  using batch = new BufferBatch({ device, stream });
  const made = outputs.map((o) =>
    batch.allocate(count * o.components * 4, { label: `${label}.out.${o.name}` })
  );
  const scratch = queryScratch(target, kind, batch, count);
  await launchChecked(
    target,
    scratch,
    count,
    inputs.map((i) => i.view!.ptr),
    made.map((b) => b.byteLength > 0 ? b.ptr : 0n),
    launch,
  );
  const results: Record<string, DeviceBuffer> = {};
  outputs.forEach((o, k) => (results[o.name] = batch.release(made[k])));
  return results;
}

/** Host inputs on a CUDA device: chunks uploaded, answered and downloaded in turn. */
async function runHostChunks(
  target: QueryTarget,
  kind: QueryKind,
  inputs: Triples[],
  outputs: OutputSpec[],
  results: Record<string, Float32Array | Int32Array>,
  launch: Launch,
): Promise<void> {
  const { device, stream, label } = target;
  const count = inputs[0].count;
  const chunk = planChunk(device, kind, count, inputs, outputs);
  using batch = new BufferBatch({ device, stream });
  const inputBuffers = inputs.map((i) =>
    batch.allocate(chunk * 3 * (i.f64 ? 8 : 4), { label: `${label}.query.inputs` })
  );
  const outputBuffers = outputs.map((o) =>
    batch.allocate(chunk * o.components * 4, { label: `${label}.query.outputs` })
  );
  const scratch = queryScratch(target, kind, batch, chunk);
  const addresses = (buffers: DeviceBuffer[]) => buffers.map((b) => b.ptr);
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    inputs.forEach((input, k) => {
      const host = input.host! as Float32Array | Float64Array;
      inputBuffers[k].copyFromHost(host.subarray(3 * start, 3 * (start + n)));
    });
    await launchChecked(
      target,
      scratch,
      n,
      addresses(inputBuffers),
      addresses(outputBuffers),
      launch,
    );
    outputs.forEach((o, k) => {
      const c = o.components;
      outputBuffers[k].copyToHost(results[o.name].subarray(c * start, c * (start + n)));
    });
  }
}

/** A query's scratch (the curve order, deferred queries) and its status word, in `batch`. */
interface QueryScratch {
  scratch: DeviceBuffer | null;
  bytes: number;
  status: DeviceBuffer;
}

function queryScratch(
  target: QueryTarget,
  kind: QueryKind,
  batch: BufferBatch,
  count: number,
): QueryScratch {
  const bytes = queryScratchBytes(target.device, kind, count);
  const label = `${target.label}.query.scratch`;
  return {
    scratch: bytes > 0 ? batch.allocate(bytes, { label }) : null,
    bytes,
    status: batch.allocate(4, { label }),
  };
}

/** One launch over `count` queries, awaited, its status word checked. */
async function launchChecked(
  target: QueryTarget,
  scratch: QueryScratch,
  count: number,
  inputs: bigint[],
  outputs: bigint[],
  launch: Launch,
): Promise<void> {
  await launch(target.device, {
    count,
    inputs,
    outputs,
    scratch: scratch.scratch?.ptr ?? 0n,
    scratchBytes: BigInt(scratch.bytes),
    status: scratch.status.ptr,
  });
  await streamDone(target.stream);
  checkStatus(scratch.status.copyToHost(new Uint32Array(1))[0]);
}

/** The largest chunk (halving from the whole set) whose device memory the manager can give. */
function planChunk(
  device: MemoryDevice,
  kind: QueryKind,
  count: number,
  inputs: Triples[],
  outputs: OutputSpec[],
): number {
  const perQuery = inputs.reduce((sum, i) => sum + 3 * (i.f64 ? 8 : 4), 0) +
    outputs.reduce((sum, o) => sum + 4 * o.components, 0);
  const bytesFor = (chunk: number) => chunk * perQuery + queryScratchBytes(device, kind, chunk);
  return fitItems(device, Math.min(count, MAX_CHUNK), 1024, bytesFor, `a BVH query of ${count}`);
}

function queryScratchBytes(device: MemoryDevice, kind: QueryKind, count: number): number {
  const bytes = new BigUint64Array(1);
  kernelLibrary(device.kind).symbols.gm_bvh_query_scratch(
    BigInt(count),
    kind === "rays" ? 1 : 0,
    bytes,
  );
  return Number(bytes[0]);
}

function checkStatus(status: number): void {
  if (status & STACK_OVERFLOW) {
    throw new GpumemError("a BVH traversal overflowed its stack (a tree deeper than 64 levels)");
  }
}
