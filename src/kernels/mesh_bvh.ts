/**
 * MeshBvh: a bounding volume hierarchy over a triangle mesh, built on the device (the cpu device
 * too), answering closest points, signed distances and ray casts. Every byte it holds comes from
 * gpumem's pools under `bvh.*` labels, and `free()` gives it all back.
 *
 * @module
 */

import { BufferBatch } from "../buffers/buffer_batch.ts";
import type { TypedDeviceView } from "../buffers/typed_device_view.ts";
import { type Stream, streamDone } from "../cuda/stream.ts";
import { placeKernel } from "./kernel_options.ts";
import {
  buildMemory,
  BVH_LAYOUT,
  type BvhMemory,
  onDevice,
  readRoot,
  setFrameBounds,
  WORD,
} from "./mesh_build.ts";
import type { MemoryDevice } from "../device/types.ts";
import { DisposedError, formatBytes, InvalidArgumentError } from "../errors.ts";
import {
  checkSameSide,
  type CoordinateArray,
  type CoordinateInput,
  coordinateTriples,
  type IndexInput,
  indexTriples,
} from "./mesh_input.ts";
import { validateTriples } from "./mesh_validate.ts";
import { callKernel } from "./native_call.ts";
import { kernelLibrary } from "./library.ts";
import {
  type ClosestPoints,
  type ClosestPointsOptions,
  type DeviceClosestPoints,
  type DeviceRayHits,
  type DeviceSignedDistances,
  type RayCastOptions,
  type RayHits,
  runClosest,
  runRays,
  type SignedDistanceOptions,
  type SignedDistances,
} from "./mesh_queries.ts";

/** Options for {@linkcode MeshBvh.build}. */
export interface MeshBvhOptions {
  /** The device to build on and hold the BVH (default: the inputs' device, else the default). */
  device?: MemoryDevice;
  /** The stream its work is ordered on (default: the device's kernel stream, shared). */
  stream?: Stream;
  /** Label prefix of its allocations (default "bvh"): `bvh.nodes`, `bvh.triangles`, ... */
  label?: string;
  /** Most triangles in a leaf (default 4; 1 to 64). */
  leafSize?: number;
}

/**
 * A BVH over a triangle mesh. Build it with {@linkcode MeshBvh.build}; free it with `using` or
 * `free()`.
 *
 * Coordinates are held relative to a point of the mesh (in float64 on the host), so meshes far
 * from the origin keep float32's precision near their surface; queries far from the mesh are
 * answered in float64.
 *
 * @example
 * ```ts
 * import { cpuDevice, MeshBvh } from "@gpumem/gpumem";
 * const vertices = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]);
 * const triangles = new Uint32Array([0, 1, 2]);
 * using bvh = await MeshBvh.build(vertices, triangles, { device: cpuDevice });
 * const { distance, faceId } = await bvh.closestPoints(new Float32Array([0.2, 0.2, 1]));
 * console.log(distance[0], faceId[0]); // 1 0
 * ```
 */
export class MeshBvh {
  /** The device it lives on. */
  readonly device: MemoryDevice;
  /** The stream its work is ordered on. */
  readonly stream: Stream;
  /** Its label prefix. */
  readonly label: string;
  /** Triangles in the mesh. */
  readonly triangleCount: number;
  /** Vertices in the mesh. */
  readonly vertexCount: number;
  /** Nodes in the tree. */
  readonly nodeCount: number;
  /** Most triangles in a leaf. */
  readonly leafSize: number;
  /** What the kernels read: origin xyz, then bounds relative to it (GM_FRAME_WORDS doubles). */
  readonly frame: Float64Array;
  readonly #memory: BvhMemory;
  readonly #words: BigUint64Array;
  #normalsBuilding: Promise<void> | null = null;
  #freed = false;

  private constructor(
    device: MemoryDevice,
    stream: Stream,
    label: string,
    counts: { triangles: number; vertices: number; nodes: number; leafSize: number },
    frame: Float64Array,
    memory: BvhMemory,
  ) {
    this.device = device;
    this.stream = stream;
    this.label = label;
    this.triangleCount = counts.triangles;
    this.vertexCount = counts.vertices;
    this.nodeCount = counts.nodes;
    this.leafSize = counts.leafSize;
    this.frame = frame;
    this.#memory = memory;
    this.#words = new BigUint64Array(6);
    this.#words[WORD.nodes] = memory.nodes.ptr;
    this.#words[WORD.triangles] = memory.triangles.ptr;
    this.#words[WORD.winding] = memory.winding.ptr;
    this.#words[WORD.nodeCount] = BigInt(counts.nodes);
    this.#words[WORD.triangleCount] = BigInt(counts.triangles);
  }

  /**
   * Builds a BVH over `triangles` (3 vertex indices each) of `vertices` (xyz each): host arrays,
   * or typed device views on the build's device. Up to 8,192 triangles the tree is split by the
   * surface-area heuristic on the host; larger meshes are built in Morton order on the device.
   * Rejects, before any kernel runs, an empty mesh, an index out of range, NaN or infinite
   * coordinates and lengths that are not multiples of 3. Zero-area triangles are fine. An
   * out-of-memory error leaves nothing allocated.
   */
  static async build(
    vertices: CoordinateInput,
    triangles: IndexInput,
    options: MeshBvhOptions = {},
  ): Promise<MeshBvh> {
    const { device, stream, label } = placeKernel(options, vertices, "bvh");
    const leafSize = options.leafSize ?? 4;
    if (!Number.isInteger(leafSize) || leafSize < 1 || leafSize > 64) {
      throw new InvalidArgumentError("options.leafSize", "an integer from 1 to 64", leafSize);
    }
    const v = coordinateTriples(vertices, "vertices", device);
    const t = indexTriples(triangles, "triangles", device);
    checkSameSide(v, t);
    if (t.count === 0) throw new InvalidArgumentError("triangles", "at least one triangle", 0);
    const built = await buildMemory(device, stream, label, v, t, leafSize);
    const counts = { triangles: t.count, vertices: v.count, nodes: built.nodeCount, leafSize };
    return new MeshBvh(device, stream, label, counts, built.frame, built.memory);
  }

  /** Bytes of device memory it holds (nodes, triangles, dipoles, parents, indices, normals). */
  get byteLength(): number {
    if (this.#freed) return 0;
    const m = this.#memory;
    return m.nodes.byteLength + m.triangles.byteLength + m.winding.byteLength +
      m.parents.byteLength + m.indices.byteLength +
      (m.normals?.byteLength ?? 0);
  }

  /** The mesh's bounds in world coordinates (from the frame): min xyz, then max xyz. */
  get bounds(): Float64Array {
    const f = this.frame;
    return Float64Array.of(
      f[0] + f[3],
      f[1] + f[4],
      f[2] + f[5],
      f[0] + f[6],
      f[1] + f[7],
      f[2] + f[8],
    );
  }

  /** Whether free() was called. */
  get freed(): boolean {
    return this.#freed;
  }

  /**
   * The closest point of the mesh to each of `points` (xyz each): its Euclidean distance, the
   * input index of its triangle (−1 when none lies within `maxDistance`, default unbounded), the
   * point and its barycentric weights. Host arrays in, host arrays out; a typed device view in,
   * device buffers out.
   */
  closestPoints(points: CoordinateArray, options?: ClosestPointsOptions): Promise<ClosestPoints>;
  /** Closest points of device-resident points: results in device buffers (`bvh.out.*`). */
  closestPoints(
    points: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
    options?: ClosestPointsOptions,
  ): Promise<DeviceClosestPoints>;
  async closestPoints(
    points: CoordinateInput,
    options: ClosestPointsOptions = {},
  ): Promise<ClosestPoints | DeviceClosestPoints> {
    return await runClosest(this.#target(), points, options, null);
  }

  /**
   * Signed distances to the mesh, negative inside: `sign` "pseudonormal" (angle-weighted
   * pseudo-normals; closed, consistently oriented meshes with shared vertices), "winding" (the
   * generalised winding number; meshes with holes too) or "parity" (ray crossings, three rays).
   */
  signedDistance(
    points: CoordinateArray,
    options?: SignedDistanceOptions,
  ): Promise<SignedDistances>;
  /** Signed distances of device-resident points: results in device buffers. */
  signedDistance(
    points: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
    options?: SignedDistanceOptions,
  ): Promise<DeviceSignedDistances>;
  async signedDistance(
    points: CoordinateInput,
    options: SignedDistanceOptions = {},
  ): Promise<SignedDistances | DeviceSignedDistances> {
    const target = this.#target();
    if (options?.sign === undefined || options.sign === "pseudonormal") {
      await this.#pseudoNormals();
    }
    return runClosest(target, points, options, options?.sign ?? "pseudonormal");
  }

  /**
   * The nearest hit of each ray `origins[i] + t · directions[i]`, t in [0, tMax] (t is in units
   * of the direction's length): t (Infinity on a miss), the face (−1 on a miss) and barycentric
   * weights. `anyHit` stops at the first hit found (occlusion tests).
   */
  rayCast(
    origins: CoordinateArray,
    directions: CoordinateArray,
    options?: RayCastOptions,
  ): Promise<RayHits>;
  /** Ray casts of device-resident rays: results in device buffers. */
  rayCast(
    origins: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
    directions: TypedDeviceView<Float32Array> | TypedDeviceView<Float64Array>,
    options?: RayCastOptions,
  ): Promise<DeviceRayHits>;
  async rayCast(
    origins: CoordinateInput,
    directions: CoordinateInput,
    options: RayCastOptions = {},
  ): Promise<RayHits | DeviceRayHits> {
    return await runRays(this.#target(), origins, directions, options);
  }

  /**
   * Moves the mesh's vertices (same count, same triangles) and refits every box and dipole
   * without rebuilding the tree: for deforming meshes. Pseudo-normals are recomputed on the next
   * signed-distance call that needs them.
   */
  async refit(vertices: CoordinateInput): Promise<void> {
    this.#target();
    const v = coordinateTriples(vertices, "vertices", this.device);
    if (v.count !== this.vertexCount) {
      throw new InvalidArgumentError("vertices", `${this.vertexCount} vertices`, v.count);
    }
    await validateTriples(this.device, v, null, this.stream);
    await this.#normalsBuilding?.catch(() => {});
    using scratch = new BufferBatch({ device: this.device, stream: this.stream });
    const moved = onDevice(scratch, v, `${this.label}.refit.vertices`);
    await moved.done;
    const vertexAddress = moved.address;
    const pending = scratch.allocate(this.nodeCount * 4, { label: `${this.label}.refit.scratch` });
    const origin = this.frame.subarray(0, 3);
    await callKernel(
      this.device,
      "gm_bvh_refit",
      this.device.ordinal,
      vertexAddress,
      v.f64 ? 1 : 0,
      origin,
      this.#words,
      this.#memory.indices.ptr,
      this.#memory.parents.ptr,
      pending.ptr,
      this.stream.handle,
    );
    await streamDone(this.stream);
    this.#memory.normals?.free();
    this.#memory.normals = null;
    this.#normalsBuilding = null;
    this.#words[WORD.normals] = 0n;
    setFrameBounds(this.frame, readRoot(this.#memory.nodes));
  }

  /** Gives every byte back to the pools (ordered on its stream). Idempotent. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    const m = this.#memory;
    for (
      const buffer of [m.nodes, m.triangles, m.winding, m.parents, m.indices, m.normals]
    ) {
      buffer?.free();
    }
  }

  /** Same as {@linkcode MeshBvh.free}. */
  [Symbol.dispose](): void {
    this.free();
  }

  /** `MeshBvh(cuda:0, 3674 triangles, 1.2 MiB)`. */
  toString(): string {
    return `MeshBvh(${this.device.id}, ${this.triangleCount} triangles, ${
      this.#freed ? "freed" : formatBytes(this.byteLength)
    })`;
  }

  #target() {
    if (this.#freed) throw new DisposedError(`${this} was freed`);
    return {
      device: this.device,
      stream: this.stream,
      label: this.label,
      words: this.#words,
      frame: this.frame,
    };
  }

  /** Builds the pseudo-normals once, on first use (they cost a sort of every edge). */
  #pseudoNormals(): Promise<void> {
    this.#normalsBuilding ??= this.#buildNormals().catch((error) => {
      this.#normalsBuilding = null;
      throw error;
    });
    return this.#normalsBuilding;
  }

  async #buildNormals(): Promise<void> {
    const library = kernelLibrary(this.device.kind);
    const bytes = new BigUint64Array(1);
    library.symbols.gm_bvh_normals_scratch(
      BigInt(this.triangleCount),
      BigInt(this.vertexCount),
      bytes,
    );
    using batch = new BufferBatch({ device: this.device, stream: this.stream });
    const normals = batch.allocate(this.triangleCount * BVH_LAYOUT.pseudoNormals, {
      label: `${this.label}.normals`,
    });
    const scratch = batch.allocate(Number(bytes[0]), { label: `${this.label}.normals.scratch` });
    await callKernel(
      this.device,
      "gm_bvh_normals",
      this.device.ordinal,
      this.#memory.triangles.ptr,
      this.#memory.indices.ptr,
      BigInt(this.triangleCount),
      BigInt(this.vertexCount),
      scratch.ptr,
      bytes[0],
      normals.ptr,
      this.stream.handle,
    );
    await streamDone(this.stream);
    if (this.#freed) return; // the batch frees what it made
    this.#memory.normals = batch.release(normals);
    this.#words[WORD.normals] = normals.ptr;
  }
}
