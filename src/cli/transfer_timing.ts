/**
 * Timing host↔device transfers four ways, shared by bench/transfer_bench.ts and `make demo`:
 * pageable memory through the driver, the staged pipeline, a pinned HostBuffer and a registered
 * array, each direction, the median of several copies per size.
 *
 * @module
 */

import { DeviceBuffer } from "../buffers/device_buffer.ts";
import type { MemoryDevice } from "../device/types.ts";
import { HostBuffer } from "../transfer/host_buffer.ts";
import { registerHost } from "../transfer/host_registration.ts";
import { TransferPipeline } from "../transfer/transfer_pipeline.ts";
import { formatBytes } from "../errors.ts";
import { formatTable, median } from "./table.ts";

/** The four ways a typed array can reach the device. */
export const TRANSFER_MODES = ["pageable", "staged", "pinned", "registered"] as const;

/** One of {@linkcode TRANSFER_MODES}. */
export type TransferMode = typeof TRANSFER_MODES[number];

/** Host to device, or device to host. */
export type Direction = "h2d" | "d2h";

/** GB/s (1e9 bytes a second) per mode and direction, for one size. */
export interface TransferRow {
  /** Bytes per copy. */
  bytes: number;
  /** Median GB/s by direction, then mode. */
  gbps: Record<Direction, Record<TransferMode, number>>;
}

/** Copies per size: fewer for larger copies (the same rule as bench/peers/pinned_bandwidth.c). */
export function repetitions(bytes: number): number {
  return bytes <= 64 << 20 ? 40 : bytes <= 256 << 20 ? 10 : 5;
}

/** A page-aligned pageable array of `bytes` (registration locks whole pages). */
function pageAligned(bytes: number): Uint8Array {
  const memory = new ArrayBuffer(bytes + 4096);
  const misalignment = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(memory)) % 4096n);
  const array = new Uint8Array(memory, (4096 - misalignment) % 4096, bytes);
  for (let i = 0; i < bytes; i += 4096) array[i] = i & 0xff; // touch every page
  return array;
}

/** Median GB/s of `copy` over the size's repetitions, after three warm-up copies. */
async function gbps(bytes: number, device: MemoryDevice, copy: () => unknown): Promise<number> {
  for (let i = 0; i < 3; i++) await copy();
  const seconds: number[] = [];
  for (let i = 0; i < repetitions(bytes); i++) {
    device.synchronize();
    const start = performance.now();
    await copy();
    device.synchronize();
    seconds.push((performance.now() - start) / 1000);
  }
  return bytes / median(seconds) / 1e9;
}

/**
 * Times every mode and direction at each of `sizes` on `device`. Synchronous copies for pageable,
 * pinned and registered memory (the driver's own paths), the pipeline's Promise for staged. The
 * registered array is the pageable one, registered last (the pipeline would skip staging for it).
 */
export async function timeTransfers(
  device: MemoryDevice,
  sizes: readonly number[],
): Promise<TransferRow[]> {
  const rows: TransferRow[] = [];
  using pipeline = new TransferPipeline({ device });
  for (const bytes of sizes) {
    using buffer = DeviceBuffer.allocate(bytes, { device, label: "bench.transfer" });
    using pinned = HostBuffer.allocate(bytes, { device, label: "bench.pinned" });
    const pageable = pageAligned(bytes);
    const h2d = {} as Record<TransferMode, number>;
    const d2h = {} as Record<TransferMode, number>;
    h2d.pageable = await gbps(bytes, device, () => buffer.copyFromHost(pageable));
    d2h.pageable = await gbps(bytes, device, () => buffer.copyToHost(pageable));
    h2d.staged = await gbps(bytes, device, () => pipeline.upload(buffer, pageable));
    d2h.staged = await gbps(bytes, device, () => pipeline.download(buffer, pageable));
    h2d.pinned = await gbps(bytes, device, () => buffer.copyFromHost(pinned.bytes));
    d2h.pinned = await gbps(bytes, device, () => buffer.copyToHost(pinned.bytes));
    {
      using _registration = registerHost(pageable, { device });
      h2d.registered = await gbps(bytes, device, () => buffer.copyFromHost(pageable));
      d2h.registered = await gbps(bytes, device, () => buffer.copyToHost(pageable));
    }
    rows.push({ bytes, gbps: { h2d, d2h } });
  }
  return rows;
}

/**
 * The rows as one table, GB/s per mode and the staged pipeline's gain over the driver's pageable
 * path; with `reference` (a C program's pinned GB/s by direction and size; the best of its runs),
 * also pinned and registered as a share of it.
 */
export function transferTable(
  rows: readonly TransferRow[],
  reference?: Record<Direction, Record<string, number>>,
): string {
  const headers = ["size", "dir", ...TRANSFER_MODES, "staged/pageable"];
  if (reference) headers.push("C pinned", "pinned/C", "registered/C");
  const lines: string[][] = [];
  for (const { bytes, gbps } of rows) {
    for (const direction of ["h2d", "d2h"] as const) {
      const figures = gbps[direction];
      const line = [
        formatBytes(bytes),
        direction === "h2d" ? "H→D" : "D→H",
        ...TRANSFER_MODES.map((mode) => figures[mode].toFixed(1)),
        `${(figures.staged / figures.pageable).toFixed(2)}×`,
      ];
      const c = reference?.[direction]?.[String(bytes)];
      if (reference) {
        line.push(
          c === undefined ? "-" : c.toFixed(1),
          c === undefined ? "-" : `${(figures.pinned / c * 100).toFixed(1)}%`,
          c === undefined ? "-" : `${(figures.registered / c * 100).toFixed(1)}%`,
        );
      }
      lines.push(line);
    }
  }
  return formatTable(headers, lines);
}
