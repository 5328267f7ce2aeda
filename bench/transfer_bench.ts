/**
 * Host↔device transfers, one table: pageable memory through the driver, the staged pipeline
 * (TransferPipeline), a pinned HostBuffer and a registered array, both directions, 4 MiB to
 * 1 GiB; with the C reference's pinned figures (bench/peers/pinned_bandwidth.c, same run, same
 * GPU) beside them when its JSON is given: with several runs' files, the best figure of each
 * (the host is shared and noisy; the best is the hardest reference to meet).
 *
 *   nvcc -O2 -o build/pinned_bandwidth bench/peers/pinned_bandwidth.c -l:libcuda.so.1
 *   build/pinned_bandwidth > pinned.json
 *   deno run --allow-ffi --allow-env --allow-sys --allow-read bench/transfer_bench.ts pinned.json
 *
 * Targets on the H100: pinned and registered ≥ 95% of C's pinned; staged ≥ 2× pageable.
 * Without a GPU it runs on the cpu device (every mode is a memcpy there).
 */

import { cudaAvailability, defaultDevice, Device, DeviceBuffer } from "../mod.ts";
import { median } from "../src/cli/table.ts";
import { timeTransfers, transferTable } from "../src/cli/transfer_timing.ts";

const SIZES = [4 << 20, 16 << 20, 64 << 20, 256 << 20, 1024 << 20];

const device = defaultDevice();
const rows = await timeTransfers(device, cudaAvailability().usable ? SIZES : SIZES.slice(0, 3));
type Reference = { device: string; h2d: Record<string, number>; d2h: Record<string, number> };
const runs: Reference[] = [];
for (const path of Deno.args) {
  try {
    runs.push(JSON.parse(await Deno.readTextFile(path)));
  } catch (error) {
    console.error(`reference ${path} skipped: ${(error as Error).message}`);
  }
}
const reference = runs.length === 0 ? undefined : runs.reduce((best, run) => ({
  device: run.device,
  h2d: bestOf(best.h2d, run.h2d),
  d2h: bestOf(best.d2h, run.d2h),
}));

function bestOf(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(a).map((size) => [size, Math.max(a[size], b[size] ?? 0)]));
}
console.log(
  `Host ↔ device transfers, GB/s (median), on ${
    device.kind === "cuda" ? (device as Device).name : "the cpu device (no GPU)"
  }${reference ? `; C reference on ${reference.device}` : ""}`,
);
console.log(transferTable(rows, reference));
const peers = cudaAvailability().usable && Device.count() >= 2 ? timePeerCopies() : undefined;
console.log(JSON.stringify({ device: device.id, rows, reference, peers }));

/** 1 GiB from cuda:0 to cuda:1 (default pools), GB/s: before peer access, then after. */
function timePeerCopies(): { before: number; after: number } {
  const [a, b] = [Device.get(0), Device.get(1)];
  const bytes = 1 << 30;
  using source = DeviceBuffer.allocate(bytes, { device: a, label: "bench.peer" });
  using target = DeviceBuffer.allocate(bytes, { device: b, label: "bench.peer" });
  source.fill(1);
  const gbps = () => {
    target.copyFrom(source);
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      target.copyFrom(source);
      ms.push(performance.now() - start);
    }
    return bytes / median(ms) / 1e6;
  };
  const before = gbps();
  const enabled = b.enablePeerAccess(a) && a.enablePeerAccess(b);
  const after = gbps();
  console.log(
    `\nPeer copy of 1 GiB, cuda:0 → cuda:1: ${before.toFixed(1)} GB/s, then ${
      after.toFixed(1)
    } GB/s ` +
      (enabled ? "with peer access enabled" : "(peer access not available)"),
  );
  return { before, after };
}
