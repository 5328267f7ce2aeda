/**
 * The cpu device: host memory behind the same API as a GPU, so code runs (and is tested) where
 * no CUDA driver or GPU is usable. Work on its streams completes before the call returns.
 *
 * @module
 */

import type { ByteOps, MemInfo } from "./types.ts";

/** {@linkcode ByteOps} over host addresses, through Deno's pointer views. */
class HostByteOps implements ByteOps {
  hostToDevice(dst: bigint, src: Uint8Array): void {
    if (src.byteLength > 0) hostBytes(dst, src.byteLength).set(src);
  }

  deviceToHost(dst: Uint8Array, src: bigint): void {
    if (dst.byteLength > 0) new Deno.UnsafePointerView(pointerOf(src)).copyInto(dst);
  }

  deviceToDevice(dst: bigint, src: bigint, bytes: number): void {
    if (bytes > 0) hostBytes(dst, bytes).set(hostBytes(src, bytes));
  }

  fill(dst: bigint, value: number, bytes: number): void {
    if (bytes > 0) hostBytes(dst, bytes).fill(value);
  }
}

/**
 * The one cpu device. Its memory comes from host allocations with real addresses; memInfo()
 * reports the system's memory when `--allow-sys=systemMemoryInfo` is granted, NaN otherwise.
 */
export class CpuDevice {
  /** Always "cpu": tells the cpu device from CUDA devices. */
  readonly kind = "cpu" as const;
  /** Always 0: there is one cpu device. */
  readonly ordinal = 0;
  /** `cpu`, used in messages and statistics. */
  readonly id = "cpu";
  /** A readable name. */
  readonly name = "cpu (host memory)";
  /** Byte copies and fills on host addresses. */
  readonly ops: ByteOps = new HostByteOps();

  /** Total system memory in bytes, or NaN without `--allow-sys=systemMemoryInfo`. */
  get totalMemory(): number {
    return this.memInfo().total;
  }

  /** Free and total system memory (NaN for both when the permission is not granted). */
  memInfo(): MemInfo {
    const permission = Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" });
    if (permission.state !== "granted") return { free: NaN, total: NaN };
    const info = Deno.systemMemoryInfo();
    return { free: info.available, total: info.total };
  }

  /** Nothing to do: work on the cpu device completes before the call returns. */
  activate(): void {}

  /** Nothing to wait for. */
  synchronize(): void {}

  /** `Device(cpu)`. */
  toString(): string {
    return "Device(cpu)";
  }
}

/** The process's cpu device. */
export const cpuDevice: CpuDevice = new CpuDevice();

function pointerOf(address: bigint): Deno.PointerObject {
  const pointer = Deno.UnsafePointer.create(address);
  if (pointer === null) throw new RangeError("null host address");
  return pointer;
}

function hostBytes(address: bigint, bytes: number): Uint8Array {
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointerOf(address), bytes));
}
