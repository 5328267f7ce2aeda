/**
 * Host↔device transfers, one table: pageable memory through the driver, the staged pipeline
 * (TransferPipeline), a pinned HostBuffer and a registered array, both directions, 4 MiB to
 * 1 GiB; with the C reference's pinned figures (bench/peers/pinned_bandwidth.c, same run, same
 * GPU) beside them when its JSON is given.
 *
 *   nvcc -O2 -o build/pinned_bandwidth bench/peers/pinned_bandwidth.c -l:libcuda.so.1
 *   build/pinned_bandwidth > pinned.json
 *   deno run --allow-ffi --allow-env --allow-sys --allow-read bench/transfer_bench.ts pinned.json
 *
 * Targets on the H100: pinned and registered ≥ 95% of C's pinned; staged ≥ 2× pageable.
 * Without a GPU it runs on the cpu device (every mode is a memcpy there).
 */

import { cudaAvailability, defaultDevice, type Device } from "../mod.ts";
import { timeTransfers, transferTable } from "../src/cli/transfer_timing.ts";

const SIZES = [4 << 20, 16 << 20, 64 << 20, 256 << 20, 1024 << 20];

const device = defaultDevice();
const referencePath = Deno.args[0];
const reference = referencePath ? JSON.parse(await Deno.readTextFile(referencePath)) : undefined;
const rows = await timeTransfers(device, cudaAvailability().usable ? SIZES : SIZES.slice(0, 3));
console.log(
  `Host ↔ device transfers, GB/s (median), on ${
    device.kind === "cuda" ? (device as Device).name : "the cpu device (no GPU)"
  }${reference ? `; C reference on ${reference.device}` : ""}`,
);
console.log(transferTable(rows, reference));
console.log(JSON.stringify({ device: device.id, rows, reference }));
