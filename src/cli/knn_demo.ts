/**
 * The demo's kNN part: the 20 nearest neighbours and the neighbourhood features of a generated
 * LiDAR tile at Lambert-93 offsets, on the device the demo runs on and on the cpu device, with
 * what each call took, how planar the roofs came out, and the pool back where it started.
 *
 * @module
 */

import {
  cpuDevice,
  formatBytes,
  getMemoryManager,
  knnPoints,
  type MemoryDevice,
  pointFeatures,
} from "../../mod.ts";
import { lidarTile, TileClass } from "./lidar_tile.ts";
import { formatTable } from "./table.ts";

async function measure(
  device: MemoryDevice,
  points: Float64Array,
  classes: Uint8Array,
): Promise<string[]> {
  const pool = getMemoryManager().pool(device);
  const before = pool.stats().allocatedBytes.current;
  await knnPoints(points.subarray(0, 3 * 1000), 20, { device }); // warm-up
  let start = performance.now();
  const { distances } = await knnPoints(points, 20, { device });
  const knnMs = performance.now() - start;
  start = performance.now();
  const features = await pointFeatures(points, { k: 20, device });
  const featuresMs = performance.now() - start;
  let roofs = 0, planarRoofs = 0, meanD20 = 0;
  for (let i = 0; i < classes.length; i++) {
    meanD20 += distances[20 * i + 19] / classes.length;
    if (classes[i] !== TileClass.roof) continue;
    roofs++;
    if (features.planarity[i] > 0.5 && features.verticality[i] < 0.05) planarRoofs++;
  }
  const count = classes.length;
  return [
    device.id,
    `${knnMs.toFixed(1)} ms (${(count / knnMs / 1e3).toFixed(2)} M/s)`,
    `${meanD20.toFixed(2)} m`,
    `${featuresMs.toFixed(1)} ms`,
    `${(100 * planarRoofs / Math.max(roofs, 1)).toFixed(0)}%`,
    formatBytes(pool.stats().allocatedBytes.current - before),
  ];
}

/** Prints the kNN table for `device` and, when that is a GPU, the cpu device beside it. */
export async function showKnn(device: MemoryDevice): Promise<void> {
  const count = 200_000;
  const { points, classes } = lidarTile(count);
  const rows = [await measure(device, points, classes)];
  if (device !== cpuDevice) rows.push(await measure(cpuDevice, points, classes));
  console.log(
    `\nknnPoints and pointFeatures (k = 20) on a generated LiDAR tile of ${count} points at ` +
      "Lambert-93 offsets, host arrays in and out:",
  );
  console.log(formatTable(
    ["device", "self-kNN", "mean 20th distance", "features", "roofs planar and flat", "left after"],
    rows,
  ));
}
