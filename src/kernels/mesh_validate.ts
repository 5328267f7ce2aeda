/**
 * Rejecting meshes and query sets the kernels must never see: indices out of range, NaN or
 * infinite coordinates. Host query sets are checked by the CPU kernel library on the host, before
 * anything is uploaded; device memory (device views, and a mesh's host arrays once a build has
 * uploaded them) by the device's own build, before any build kernel runs.
 *
 * @module
 */

import { DeviceBuffer } from "../buffers/device_buffer.ts";
import type { Stream } from "../cuda/stream.ts";
import { streamDone } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { Triples } from "./mesh_input.ts";
import { callKernel, hostAddress } from "./native_call.ts";
import { cpuDevice } from "../device/cpu_device.ts";

/** Words of gm_bvh_validate's report (enum gm_validate_word in csrc/bvh/bvh_layout.h). */
const REPORT = { badIndices: 0, firstBadIndex: 1, nonFinite: 2, firstNonFinite: 3 } as const;

/** Where host arrays have been uploaded to on a CUDA device: the check reads those copies. */
export interface UploadedTriples {
  coordinates: bigint;
  indices: bigint;
}

/**
 * Throws InvalidArgumentError when `coordinates` holds a NaN or an infinity, or `indices` (when
 * given) an index of no coordinate triple. Both must be on the same side (host or `device`).
 * With `uploaded`, host arrays are checked in their device copies, by the device's own build
 * (the messages still quote the host arrays).
 */
export async function validateTriples(
  device: MemoryDevice,
  coordinates: Triples,
  indices: Triples | null,
  stream: Stream,
  uploaded?: UploadedTriples,
): Promise<void> {
  const report = new BigUint64Array(4);
  const indexCount = BigInt(indices?.count ?? 0);
  const address = (t: Triples | null) =>
    t === null ? 0n : t.host !== null ? hostAddress(t.host) : t.view!.ptr;
  if (device.kind === "cpu" || (coordinates.host !== null && uploaded === undefined)) {
    // Host memory (host arrays, or the cpu device's): the CPU library reads it where it is, on a
    // worker thread.
    await callKernel(
      cpuDevice,
      "gm_bvh_validate",
      0,
      address(coordinates),
      BigInt(coordinates.count),
      coordinates.f64 ? 1 : 0,
      address(indices),
      indexCount,
      hostAddress(report),
      null,
    );
  } else {
    using words = DeviceBuffer.allocate(32, { device, stream, label: "bvh.validate" });
    await callKernel(
      device,
      "gm_bvh_validate",
      device.ordinal,
      uploaded?.coordinates ?? coordinates.view!.ptr,
      BigInt(coordinates.count),
      coordinates.f64 ? 1 : 0,
      uploaded?.indices ?? indices?.view?.ptr ?? 0n,
      indexCount,
      words.ptr,
      stream.handle,
    );
    await streamDone(stream);
    words.copyToHost(report);
  }
  if (indices !== null && report[REPORT.badIndices] > 0n) {
    const position = Number(report[REPORT.firstBadIndex]);
    throw new InvalidArgumentError(
      indices.argument,
      `vertex indices below ${coordinates.count} (the number of vertices)`,
      `${report[REPORT.badIndices]} out of range, the first at element ${position}` +
        (indices.host ? ` (${indices.host[position]})` : ""),
    );
  }
  if (report[REPORT.nonFinite] > 0n) {
    const position = Number(report[REPORT.firstNonFinite]);
    throw new InvalidArgumentError(
      coordinates.argument,
      "finite coordinates",
      `${report[REPORT.nonFinite]} NaN or infinite values, the first at element ${position}`,
    );
  }
}
