/**
 * Host memory with real, stable addresses: the cpu device's upstream.
 *
 * Each allocation is an ArrayBuffer the resource keeps reachable until it is deallocated
 * (V8 never moves an ArrayBuffer's backing store), aligned to 256 bytes as cuMemAlloc's are. It
 * needs no native library, so the cpu device works from a plain JSR import.
 *
 * @module
 */

import { type CpuDevice, cpuDevice } from "../device/cpu_device.ts";
import { outOfMemoryError } from "./out_of_memory.ts";
import { checkByteCount } from "../validate.ts";
import { LiveAllocations } from "./live_allocations.ts";
import type { MemoryResource } from "./resource.ts";

/** Alignment of every address HostResource returns, as cuMemAlloc guarantees for device memory. */
export const HOST_ALIGNMENT = 256;

/**
 * Zero-initialised host memory at 256-byte-aligned addresses.
 *
 * @example
 * ```ts
 * import { HostResource } from "@gpumem/gpumem";
 * const host = new HostResource();
 * const address = host.allocate(1024);
 * host.deallocate(address, 1024);
 * ```
 */
export class HostResource implements MemoryResource {
  /** Always the cpu device. */
  readonly device: CpuDevice = cpuDevice;
  /** `host`. */
  readonly name = "host";
  /** What this resource has handed out and not taken back. */
  readonly live: LiveAllocations = new LiveAllocations();
  readonly #buffers = new Map<bigint, ArrayBuffer>();

  /** Allocates `bytes` zeroed bytes; OutOfMemoryError when the host refuses. */
  allocate(bytes: number): bigint {
    checkByteCount(bytes, "bytes");
    if (bytes === 0) return 0n;
    let buffer: ArrayBuffer;
    try {
      buffer = new ArrayBuffer(bytes + HOST_ALIGNMENT - 1);
    } catch (error) {
      throw outOfMemoryError(this.device, bytes, error);
    }
    const base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer));
    const alignment = BigInt(HOST_ALIGNMENT);
    const address = (base + alignment - 1n) / alignment * alignment;
    this.#buffers.set(address, buffer);
    this.live.add(address, bytes);
    return address;
  }

  /** Releases an address this resource returned. */
  deallocate(address: bigint, bytes: number): void {
    if (bytes === 0 && address === 0n) return;
    this.live.verify(address, bytes, this.name);
    this.#buffers.delete(address);
    this.live.remove(address, bytes);
  }
}
