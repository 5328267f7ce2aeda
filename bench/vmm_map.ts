/**
 * What growing in place costs the device: map (cuMemCreate + cuMemMap + cuMemSetAccess) and unmap
 * of one piece into a reserved range, by size, beside cuMemAlloc + cuMemFree of the same size; then
 * the same sizes mapped as a pool growth maps them (up to 32 pieces, each unmapping alone).
 *
 *   deno run --allow-ffi --allow-env --allow-sys bench/vmm_map.ts
 *
 * Median of 9 rounds after one warm-up. Without a GPU it times the cpu device's mmap equivalent.
 */

import {
  cudaAvailability,
  CudaMallocResource,
  CudaVirtualMemoryResource,
  Device,
  formatBytes,
  HostVirtualMemoryResource,
  type MemoryResource,
} from "../mod.ts";
import { formatTable, median } from "../src/cli/table.ts";

const cuda = cudaAvailability();
const device = cuda.usable ? Device.get(0) : null;
const space = device ? new CudaVirtualMemoryResource(device) : new HostVirtualMemoryResource();
const plain: MemoryResource | null = device ? new CudaMallocResource(device) : null;
const SIZES = [2 << 20, 64 << 20, 1 << 30, 4 * 2 ** 30];

/** Median microseconds of `body` over 9 rounds after a warm-up. */
function microseconds(body: () => void): number {
  body();
  const samples: number[] = [];
  for (let round = 0; round < 9; round++) {
    const start = performance.now();
    body();
    samples.push((performance.now() - start) * 1000);
  }
  return median(samples);
}

const range = space.reserve(space.roundUp(8 * 2 ** 30));
const rows = SIZES.map((bytes) => {
  space.map(range, bytes); // warm-up
  space.unmap(range, bytes);
  const maps: number[] = [];
  const unmaps: number[] = [];
  for (let round = 0; round < 9; round++) {
    let start = performance.now();
    space.map(range, bytes);
    maps.push((performance.now() - start) * 1000);
    start = performance.now();
    space.unmap(range, bytes);
    unmaps.push((performance.now() - start) * 1000);
  }
  const mapUs = median(maps);
  const unmapUs = median(unmaps);
  const mallocUs = plain === null ? NaN : microseconds(() => {
    plain.deallocate(plain.allocate(bytes), bytes);
  });
  return [
    formatBytes(bytes),
    mapUs.toFixed(1),
    unmapUs.toFixed(1),
    (mapUs / (bytes / 2 ** 30)).toFixed(1),
    Number.isNaN(mallocUs) ? "n/a" : mallocUs.toFixed(1),
  ];
});
// The pool maps a growth as up to 32 pieces (so parts of it unmap alone): the same sizes so.
const pieceRows = SIZES.map((bytes) => {
  const piece = Math.max(space.granularity, space.roundUp(bytes / 32));
  const count = Math.ceil(bytes / piece);
  const unmapAll = () => {
    for (let at = 0; at < bytes; at += piece) {
      space.unmap(range + BigInt(at), Math.min(piece, bytes - at));
    }
  };
  space.map(range, bytes, piece); // warm-up
  unmapAll();
  const maps: number[] = [];
  const unmaps: number[] = [];
  for (let round = 0; round < 9; round++) {
    let start = performance.now();
    space.map(range, bytes, piece);
    maps.push((performance.now() - start) * 1000);
    start = performance.now();
    unmapAll();
    unmaps.push((performance.now() - start) * 1000);
  }
  return [formatBytes(bytes), String(count), median(maps).toFixed(1), median(unmaps).toFixed(1)];
});
space.release(range, space.roundUp(8 * 2 ** 30));
console.log(
  `Growing in place on ${device ? device.name : "the cpu device (mmap)"} (${space.name})`,
);
console.log(
  formatTable(["piece", "map µs", "unmap µs", "map µs/GiB", "cuMemAlloc+Free µs"], rows),
);
console.log(
  "\nThe same growths mapped as the pool maps them (up to 32 pieces, one cuMemSetAccess)",
);
console.log(formatTable(["growth", "pieces", "map µs", "unmap all µs"], pieceRows));
