/**
 * Building a MeshBvh's memory: the mesh uploaded, checked and built in two passes, every
 * temporary in one batch that frees itself, and the frame its queries read.
 *
 * @module
 */

import { BufferBatch } from "../buffers/buffer_batch.ts";
import type { DeviceBuffer } from "../buffers/device_buffer.ts";
import { type Stream, streamDone } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";
import { formatBytes, OutOfMemoryError } from "../errors.ts";
import { uploadForKernel } from "./kernel_upload.ts";
import { kernelLibrary } from "./library.ts";
import type { Triples } from "./mesh_input.ts";
import { validateTriples } from "./mesh_validate.ts";
import { callKernel } from "./native_call.ts";

/** Bytes of the layouts in csrc/bvh/bvh_layout.h. */
export const BVH_LAYOUT = {
  node: 64,
  distanceNode: 128,
  triangle: 48,
  winding: 64,
  pseudoNormals: 72,
} as const;

/**
 * Meshes of at most this many triangles are built by the surface-area heuristic on the host
 * (GM_SAH_MAX_TRIANGLES in csrc/bvh/bvh_sah.h); larger ones in Morton order on the device.
 */
export const SAH_MAX_TRIANGLES = 8192;

/** Words of the BVH descriptor (enum gm_bvh_word in csrc/bvh/bvh_layout.h). */
export const WORD = {
  nodes: 0,
  triangles: 1,
  winding: 2,
  normals: 3,
  nodeCount: 4,
  triangleCount: 5,
};

/**
 * Bytes of `nodeCount` nodes (gm_nodes_bytes): the nodes rays read, then, from the next multiple
 * of 128 bytes, the distance nodes.
 */
export function nodesBytes(nodeCount: number): number {
  return Math.ceil(nodeCount * BVH_LAYOUT.node / 128) * 128 + nodeCount * BVH_LAYOUT.distanceNode;
}

/** The device memory of a built BVH. */
export interface BvhMemory {
  nodes: DeviceBuffer;
  triangles: DeviceBuffer;
  winding: DeviceBuffer;
  parents: DeviceBuffer;
  indices: DeviceBuffer;
  normals: DeviceBuffer | null;
}

/**
 * The device address of `triples`: a device view's own, or a new buffer of `batch` (labelled
 * `label`) that a host array uploads into; `done` resolves once the bytes are there.
 */
export function onDevice(
  batch: BufferBatch,
  triples: Triples,
  label: string,
): { address: bigint; done: Promise<void> } {
  if (triples.host === null) return { address: triples.view!.ptr, done: Promise.resolve() };
  const buffer = batch.allocate(triples.host.byteLength, { label });
  return { address: buffer.ptr, done: uploadForKernel(buffer, triples.host) };
}

/** The root node's two child boxes (relative to the origin): lo xyz, hi xyz of their union. */
export function readRoot(nodes: DeviceBuffer): Float32Array {
  const root = nodes.view(0, BVH_LAYOUT.node).copyToHost(new Float32Array(16));
  const box = new Float32Array(6);
  for (let k = 0; k < 3; k++) {
    box[k] = Math.min(root[k], root[6 + k]);
    box[3 + k] = Math.max(root[3 + k], root[9 + k]);
  }
  return box;
}

export function setFrameBounds(frame: Float64Array, box: Float32Array): void {
  for (let k = 0; k < 6; k++) frame[3 + k] = box[k];
}

/** The first triangle's first vertex, in float64: the origin coordinates are kept relative to. */
function originOf(v: Triples, t: Triples): Float64Array {
  const origin = new Float64Array(3);
  let index: number;
  if (t.host !== null) index = t.host[0] >>> 0;
  else {
    const first = new Uint32Array(1);
    t.view!.bytes.view(0, 4).copyToHost(first);
    index = first[0];
  }
  if (v.host !== null) {
    for (let k = 0; k < 3; k++) origin[k] = v.host[3 * index + k];
  } else {
    const bytes = v.f64 ? 8 : 4;
    const corner = v.f64 ? new Float64Array(3) : new Float32Array(3);
    v.view!.bytes.view(3 * index * bytes, 3 * bytes).copyToHost(corner);
    origin.set(corner);
  }
  return origin;
}

/**
 * Checks the mesh, then the two build passes, with every temporary in one batch that frees
 * itself. Host arrays upload while the host checks them; no kernel runs before both are done.
 */
export async function buildMemory(
  device: MemoryDevice,
  stream: Stream,
  label: string,
  v: Triples,
  t: Triples,
  leafSize: number,
): Promise<{ memory: BvhMemory; nodeCount: number; frame: Float64Array }> {
  const library = kernelLibrary(device.kind);
  const scratchBytes = new BigUint64Array(1);
  library.symbols.gm_bvh_build_scratch(BigInt(t.count), scratchBytes);
  const origin = originOf(v, t);
  using batch = new BufferBatch({ device, stream });
  try {
    const vertices = onDevice(batch, v, `${label}.build.vertices`);
    const triangles = onDevice(batch, t, `${label}.build.triangles`);
    // Every upload settles before the batch can free what it writes into. Host arrays are then
    // checked where they landed, by one kernel before any build kernel: checking them on the host
    // while the upload's own threads copied them was slower (bench/RESULTS.md).
    const settled = await Promise.allSettled([vertices.done, triangles.done]);
    for (const result of settled) if (result.status === "rejected") throw result.reason;
    await validateTriples(device, v, t, stream, {
      coordinates: vertices.address,
      indices: triangles.address,
    });
    const scratch = batch.allocate(Number(scratchBytes[0]), { label: `${label}.build.scratch` });
    const count = batch.allocate(4, { label: `${label}.build.scratch` });
    const tris = batch.allocate(t.count * BVH_LAYOUT.triangle, { label: `${label}.triangles` });
    const indices = batch.allocate(t.count * 12, { label: `${label}.indices` });
    await callKernel(
      device,
      "gm_bvh_build_tree",
      device.ordinal,
      vertices.address,
      BigInt(v.count),
      v.f64 ? 1 : 0,
      triangles.address,
      BigInt(t.count),
      origin,
      leafSize,
      scratch.ptr,
      scratchBytes[0],
      tris.ptr,
      indices.ptr,
      count.ptr,
      stream.handle,
    );
    await streamDone(stream);
    const nodeCount = count.copyToHost(new Uint32Array(1))[0];
    const nodes = batch.allocate(nodesBytes(nodeCount), { label: `${label}.nodes` });
    const winding = batch.allocate(nodeCount * BVH_LAYOUT.winding, { label: `${label}.winding` });
    const parents = batch.allocate(nodeCount * 4, { label: `${label}.parents` });
    await callKernel(
      device,
      "gm_bvh_build_nodes",
      device.ordinal,
      BigInt(t.count),
      leafSize,
      scratch.ptr,
      scratchBytes[0],
      nodes.ptr,
      winding.ptr,
      parents.ptr,
      BigInt(nodeCount),
      tris.ptr,
      stream.handle,
    );
    await streamDone(stream);
    const frame = new Float64Array(9);
    frame.set(origin);
    setFrameBounds(frame, readRoot(nodes));
    const memory: BvhMemory = {
      nodes: batch.release(nodes),
      triangles: batch.release(tris),
      winding: batch.release(winding),
      parents: batch.release(parents),
      indices: batch.release(indices),
      normals: null,
    };
    return { memory, nodeCount, frame };
  } catch (error) {
    if (error instanceof OutOfMemoryError) {
      throw new OutOfMemoryError(error, [
        `MeshBvh.build of ${t.count} triangles needs about ${
          formatBytes(estimateBuildBytes(t.count, Number(scratchBytes[0]), v, t))
        } at its peak (scratch ${formatBytes(Number(scratchBytes[0]))}); nothing was kept`,
      ], { cause: error });
    }
    throw error;
  }
}

/** Peak bytes of a build: uploads, scratch, and the BVH at its largest (n − 1 nodes). */
function estimateBuildBytes(triangles: number, scratch: number, v: Triples, t: Triples): number {
  const uploads = (v.host?.byteLength ?? 0) + (t.host?.byteLength ?? 0);
  const kept = triangles * (BVH_LAYOUT.triangle + 12) +
    nodesBytes(Math.max(1, triangles - 1)) + Math.max(1, triangles - 1) * (BVH_LAYOUT.winding + 4);
  return uploads + scratch + kept;
}
