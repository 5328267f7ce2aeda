/** The distance and nearest-neighbour contracts on the cpu device (the CPU build of csrc/knn/). */

import assert from "node:assert/strict";
import {
  cpuDevice,
  getMemoryManager,
  InvalidArgumentError,
  kernelLibrary,
  knnPoints,
  planKnnPoints,
} from "../mod.ts";
import { lidarPatch, registerKnnContracts } from "./contracts/knn_contracts.ts";
import { withSeed } from "./contracts/meshes.ts";

// Opened once for the process, outside any test: the resource sanitizer checks what tests open.
kernelLibrary("cpu");
registerKnnContracts("cpu knn", () => cpuDevice);

Deno.test("cpu knn: a float64 cloud too large to upload whole goes up in chunks and gives the same answer", () =>
  withSeed(async (rng) => {
    // Large enough that the pool's 2 MiB mapping steps are small beside what chunks save (12 B a
    // point).
    const n = 1_000_000, k = 8;
    const points = lidarPatch(rng, n);
    const pool = getMemoryManager().pool(cpuDevice);
    pool.freeCache();
    const whole = planKnnPoints(n, k, { device: cpuDevice });
    assert.equal(whole.uploadChunkPoints, 0, "no limit: one upload");
    const plain = await knnPoints(points, k, { device: cpuDevice });
    // Queries of their own, converted with the frame: they see any shift of the offsets.
    const queries = points.subarray(0, 3 * 5000).map((v, i) => v + (i % 3 === 2 ? 0.3 : -0.2));
    const plainQueries = await knnPoints(points, k, { device: cpuDevice, queries });
    const previous = pool.limit;
    pool.freeCache();
    // Below what the whole upload needs (by 4 B a point), above what chunks of float offsets
    // need (12 B a point less).
    pool.limit = whole.buildBytes - 4 * n;
    try {
      const chunked = planKnnPoints(n, k, { device: cpuDevice });
      assert.ok(chunked.uploadChunkPoints > 0 && chunked.uploadChunkPoints < n, "chunks planned");
      assert.ok(chunked.buildBytes < whole.buildBytes);
      const got = await knnPoints(points, k, { device: cpuDevice });
      assert.deepEqual(got.indices, plain.indices, "the same neighbours");
      assert.deepEqual(got.distances, plain.distances, "the same distances");
      const gotQueries = await knnPoints(points, k, { device: cpuDevice, queries });
      assert.deepEqual(gotQueries.indices, plainQueries.indices);
      assert.deepEqual(gotQueries.distances, plainQueries.distances);
      // Non-finite coordinates are still found, in any chunk.
      const bad = points.slice();
      bad[3 * (n - 5) + 1] = NaN;
      await assert.rejects(knnPoints(bad, k, { device: cpuDevice }), InvalidArgumentError);
    } finally {
      pool.limit = previous;
      pool.freeCache();
    }
  }));
