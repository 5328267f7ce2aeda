/**
 * A point cloud's index on a device (csrc/knn/point_index.h): the cloud's frame (float64
 * bounds; the float offsets from its centre keep Lambert-93 coordinates to a fraction of a
 * millimetre), its points sorted along a Morton curve, cut into leaves on aligned cells of the
 * curve, and the boxes of an implicit tree over them. Built in steps (frame, order, leaves,
 * index); the upload, the order and the sort's scratch are held until the index is made, so a
 * 17M-point float64 tile needs about 1.1 GB at the peak; where that does not fit, host float64
 * coordinates go up in chunks as float offsets (12 B a point instead of 24), the same index.
 *
 * @module
 */

import { BufferBatch } from "../buffers/buffer_batch.ts";
import type { DeviceBuffer } from "../buffers/device_buffer.ts";
import { streamDone } from "../cuda/stream.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { KernelPlacement } from "./kernel_options.ts";
import { kernelLibrary } from "./library.ts";
import { onDevice } from "./mesh_build.ts";
import type { Triples } from "./mesh_input.ts";
import { callKernel } from "./native_call.ts";
import { uploadForKernel } from "./kernel_upload.ts";

/** Bytes of a GmPointFrame. */
const FRAME_BYTES = 64;
/** The build's input as float offsets from the frame's centre (GM_POINTS_CENTRED). */
const CENTRED = 2;
/** Word of GmPointFrame holding the count of non-finite coordinates. */
const FRAME_NONFINITE = 6;

/** Sizes of an index over `count` points in `leaves` leaves (gm_points_plan). */
export interface PointIndexPlan {
  /** Bytes of the sorted points, the leaf starts and the tree's boxes. */
  indexBytes: number;
  /** Bytes of the ordering pass's scratch (Morton codes, the sort's storage). */
  orderScratchBytes: number;
  /** The tree's leaf level (a power of two). */
  leafBase: number;
  /** Where the leaf starts begin in the index. */
  startsOffset: number;
  /** Where the leaves' first Morton codes begin in the index. */
  leafCodesOffset: number;
  /** Where the boxes begin in the index. */
  nodesOffset: number;
}

/** The sizes gm_points_plan gives for `count` points (and `leaves` leaves) on `placement`'s device. */
export function planPointIndex(
  placement: KernelPlacement,
  count: number,
  leaves = 0,
): PointIndexPlan {
  const plan = new BigUint64Array(6);
  kernelLibrary(placement.device.kind).symbols.gm_points_plan(BigInt(count), BigInt(leaves), plan);
  return {
    indexBytes: Number(plan[0]),
    orderScratchBytes: Number(plan[1]),
    leafBase: Number(plan[2]),
    startsOffset: Number(plan[3]),
    nodesOffset: Number(plan[4]),
    leafCodesOffset: Number(plan[5]),
  };
}

/** A built index: its memory and the words gm_points_query reads. Free it with `free()`. */
export class PointIndex {
  /** Points indexed. */
  readonly count: number;
  /** GM_POINT_WORDS: frame, points, boxes, count, leaf base, leaf starts, leaves, leaf codes. */
  readonly words: BigUint64Array;
  readonly #frame: DeviceBuffer;
  readonly #index: DeviceBuffer;

  private constructor(
    count: number,
    leaves: number,
    frame: DeviceBuffer,
    index: DeviceBuffer,
    plan: PointIndexPlan,
  ) {
    this.count = count;
    this.#frame = frame;
    this.#index = index;
    this.words = BigUint64Array.of(
      frame.ptr,
      index.ptr,
      index.ptr + BigInt(plan.nodesOffset),
      BigInt(count),
      BigInt(plan.leafBase),
      index.ptr + BigInt(plan.startsOffset),
      BigInt(leaves),
      index.ptr + BigInt(plan.leafCodesOffset),
    );
  }

  /** The frame's address (queries order themselves in its grid). */
  get frame(): bigint {
    return this.#frame.ptr;
  }

  /** Bytes it holds. */
  get byteLength(): number {
    return this.#frame.byteLength + this.#index.byteLength;
  }

  /**
   * Indexes `points` (checked triples) on `placement`: uploads host arrays, orders them, cuts the
   * leaves, sorts the points into the index. With `chunkPoints`, host float64 coordinates go up
   * that many at a time, twice (once for the frame, once as float offsets from its centre), so
   * they are never on the device whole: half the input's memory, the same index. Non-finite
   * coordinates are an InvalidArgumentError, after which nothing is held.
   */
  static async build(
    placement: KernelPlacement,
    points: Triples,
    chunkPoints?: number,
  ): Promise<PointIndex> {
    const { device, stream, label } = placement;
    const n = points.count;
    const ordinal = device.ordinal, handle = stream.handle;
    using batch = new BufferBatch({ device, stream });
    const frame = batch.allocate(FRAME_BYTES, { label: `${label}.index` });
    let address: bigint, f64: number;
    if (chunkPoints !== undefined && points.host instanceof Float64Array) {
      address = await centredInput(placement, batch, points.host, chunkPoints, frame);
      f64 = CENTRED;
    } else {
      const input = onDevice(batch, points, `${label}.input`);
      await input.done;
      address = input.address;
      f64 = points.f64 ? 1 : 0;
      await callKernel(
        device,
        "gm_points_frame",
        ordinal,
        address,
        BigInt(n),
        f64,
        frame.ptr,
        handle,
      );
    }
    const order = batch.allocate(4 * n, { label: `${label}.build.order` });
    const ordering = await orderPoints(placement, batch, address, n, f64, frame.ptr, order.ptr);
    const { scratch, scratchBytes, nonfinite } = ordering;
    const count = batch.allocate(4, { label: `${label}.build.scratch` });
    await callKernel(
      device,
      "gm_points_leaves",
      ordinal,
      BigInt(n),
      scratch.ptr,
      scratchBytes,
      count.ptr,
      handle,
    );
    await streamDone(stream);
    const bad = frame.copyToHost(new BigUint64Array(FRAME_BYTES / 8))[FRAME_NONFINITE] +
      nonfinite.copyToHost(new BigUint64Array(1))[0];
    if (bad > 0n) {
      throw new InvalidArgumentError(
        points.argument,
        "finite coordinates within float range of the cloud's centre",
        `${bad} that are not`,
      );
    }
    const leaves = count.copyToHost(new Uint32Array(1))[0];
    const plan = planPointIndex(placement, n, leaves);
    const index = batch.allocate(plan.indexBytes, { label: `${label}.index` });
    await callKernel(
      device,
      "gm_points_index",
      ordinal,
      address,
      BigInt(n),
      f64,
      frame.ptr,
      order.ptr,
      scratch.ptr,
      scratchBytes,
      BigInt(leaves),
      index.ptr,
      handle,
    );
    await streamDone(stream);
    return new PointIndex(n, leaves, batch.release(frame), batch.release(index), plan);
  }

  /** Gives its memory back (ordered on the stream it was built on). Idempotent. */
  free(): void {
    this.#frame.free();
    this.#index.free();
  }

  /** Same as {@linkcode PointIndex.free}. */
  [Symbol.dispose](): void {
    this.free();
  }
}

/** What {@linkcode orderPoints} leaves: its scratch (the sorted codes) and the non-finite count. */
export interface Ordering {
  /** The scratch, holding the sorted Morton codes (a buffer of the caller's batch). */
  scratch: DeviceBuffer;
  /** Its size, as the kernels take it. */
  scratchBytes: bigint;
  /** Where the count of points not finite as float offsets lands once the stream is done. */
  nonfinite: DeviceBuffer;
}

/**
 * Orders `n` points at `address` along the Morton curve of the frame at `frame`, into the n
 * uint32 at `order`, with scratch and counters from `batch`.
 */
export async function orderPoints(
  placement: KernelPlacement,
  batch: BufferBatch,
  address: bigint,
  n: number,
  f64: boolean | number,
  frame: bigint,
  order: bigint,
): Promise<Ordering> {
  const { device, stream, label } = placement;
  const scratchBytes = BigInt(planPointIndex(placement, n).orderScratchBytes);
  const nonfinite = batch.allocate(8, { label: `${label}.build.scratch` });
  const scratch = batch.allocate(Number(scratchBytes), { label: `${label}.build.scratch` });
  await callKernel(
    device,
    "gm_points_order",
    device.ordinal,
    address,
    BigInt(n),
    typeof f64 === "number" ? f64 : f64 ? 1 : 0,
    frame,
    scratch.ptr,
    scratchBytes,
    order,
    nonfinite.ptr,
    stream.handle,
  );
  return { scratch, scratchBytes, nonfinite };
}

/**
 * Uploads host float64 `coordinates` `chunk` points at a time, twice: first for the frame (each
 * chunk's bounds, merged here), then as float offsets from the frame's centre into one buffer
 * of 12 bytes a point, which it returns the address of (a buffer of `batch`). The staging chunk
 * is given back before it returns.
 */
async function centredInput(
  placement: KernelPlacement,
  batch: BufferBatch,
  coordinates: Float64Array,
  chunk: number,
  frame: DeviceBuffer,
): Promise<bigint> {
  const { device, stream, label } = placement;
  const n = coordinates.length / 3;
  const step = Math.max(1, Math.min(chunk, n));
  // The offsets first, the staging after them: given back, the staging leaves its space at the
  // end, where the order and the sort's scratch that come next take it.
  const offsets = batch.allocate(12 * n, { label: `${label}.build.offsets` });
  const staging = batch.allocate(24 * step, { label: `${label}.build.input` });
  const part = batch.allocate(FRAME_BYTES, { label: `${label}.build.scratch` });
  // Each pass uploads the chunks in turn, runs `kernel` on one and waits for it (the next chunk
  // overwrites the staging), then calls `done`.
  const eachChunk = async (
    kernel: (start: number, count: number) => Promise<void>,
    done: () => void = () => {},
  ) => {
    for (let start = 0; start < n; start += step) {
      const count = Math.min(step, n - start);
      await uploadForKernel(staging, coordinates.subarray(3 * start, 3 * (start + count)));
      await kernel(start, count);
      await streamDone(stream);
      done();
    }
  };
  // Bounds as ordered words (gm_order_double): the smallest lo and largest hi of the chunks.
  const merged = new BigUint64Array(FRAME_BYTES / 8);
  merged.fill(0xFFFFFFFFFFFFFFFFn, 0, 3);
  await eachChunk((_start, count) => {
    const call = [device.ordinal, staging.ptr, BigInt(count), 1, part.ptr, stream.handle] as const;
    return callKernel(device, "gm_points_frame", ...call);
  }, () => {
    const words = part.copyToHost(new BigUint64Array(FRAME_BYTES / 8));
    for (let k = 0; k < 3; k++) {
      if (words[k] < merged[k]) merged[k] = words[k];
      if (words[3 + k] > merged[3 + k]) merged[3 + k] = words[3 + k];
    }
    merged[FRAME_NONFINITE] += words[FRAME_NONFINITE];
  });
  frame.copyFromHost(merged);
  await eachChunk((start, count) =>
    callKernel(
      device,
      "gm_points_offsets",
      device.ordinal,
      staging.ptr,
      BigInt(count),
      1,
      frame.ptr,
      offsets.ptr + BigInt(12 * start),
      stream.handle,
    )
  );
  batch.release(staging).free();
  batch.release(part).free();
  return offsets.ptr;
}
