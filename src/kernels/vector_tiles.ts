/**
 * The device side of a vector call: inputs on the device (host arrays uploaded once the manager
 * says they fit) with their centre, and one tile of distances launched.
 *
 * @module
 */

import type { BufferBatch } from "../buffers/buffer_batch.ts";
import { requireBytes } from "./kernel_memory.ts";
import type { KernelPlacement } from "./kernel_options.ts";
import { onDevice } from "./mesh_build.ts";
import { callKernel } from "./native_call.ts";
import type { VectorRows } from "./vector_input.ts";

/** A checked vector call: queries, corpus, where it runs, its precision. */
export interface VectorJob {
  q: VectorRows;
  c: VectorRows;
  placement: KernelPlacement;
  /** enum gm_precision. */
  precision: number;
}

/** Device addresses of a call's queries, corpus and centre (0: none). */
export interface Inputs {
  queries: bigint;
  corpus: bigint;
  centre: bigint;
}

/** Inputs on the device (host arrays uploaded, if the manager can hold them) and their centre. */
export async function upload(job: VectorJob, batch: BufferBatch): Promise<Inputs> {
  const { q, c, placement } = job;
  const { device, stream, label } = placement;
  const bytes = (q.host?.byteLength ?? 0) + (c.host?.byteLength ?? 0) + 8 * q.dim;
  requireBytes(device, bytes, `the inputs of ${q.rows} × ${c.rows} rows of ${q.dim}`);
  const asTriples = (rows: VectorRows) => ({ ...rows, count: rows.rows });
  const queries = onDevice(batch, asTriples(q), `${label}.input`);
  const corpus = onDevice(batch, asTriples(c), `${label}.input`);
  await Promise.all([queries.done, corpus.done]);
  let centre = 0n;
  if (q.f64) {
    const buffer = batch.allocate(8 * q.dim, { label: `${label}.centre` });
    await callKernel(
      device,
      "gm_vectors_centre",
      device.ordinal,
      corpus.address,
      BigInt(c.rows),
      q.dim,
      1,
      buffer.ptr,
      stream.handle,
    );
    centre = buffer.ptr;
  }
  return { queries: queries.address, corpus: corpus.address, centre };
}

/** Distances of queries [qs, qs + qn) to corpus rows [cs, cs + cn) into `out` (rows of ld). */
export async function tile(
  job: VectorJob,
  inputs: Inputs,
  qs: number,
  qn: number,
  cs: number,
  cn: number,
  squared: boolean,
  out: bigint,
  ld: number,
): Promise<void> {
  const { device, stream } = job.placement;
  const rowBytes = BigInt(job.q.dim * (job.q.f64 ? 8 : 4));
  await callKernel(
    device,
    "gm_l2_tile",
    device.ordinal,
    inputs.queries + BigInt(qs) * rowBytes,
    BigInt(qn),
    inputs.corpus + BigInt(cs) * rowBytes,
    BigInt(cn),
    job.q.dim,
    job.q.f64 ? 1 : 0,
    inputs.centre,
    squared ? 1 : 0,
    job.precision,
    out,
    BigInt(ld),
    stream.handle,
  );
}
