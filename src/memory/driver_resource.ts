/**
 * What the plain driver upstreams share: one driver call to allocate, one to free, an exact
 * ledger of what is live, and the device kept open while anything is.
 *
 * @module
 */

import type { Device } from "../cuda/device.ts";
import { check } from "../cuda/driver.ts";
import { checkByteCount } from "../validate.ts";
import { LiveAllocations } from "./live_allocations.ts";
import { checkDriverAllocation } from "../cuda/driver_allocation.ts";
import type { MemorySource } from "./out_of_memory.ts";
import type { MemoryResource } from "./resource.ts";

const addressOut = new BigUint64Array(1);

/** A resource over a driver allocate/free pair (cuMemAlloc, cuMemHostAlloc). */
export abstract class DriverResource implements MemoryResource {
  /** The device whose context allocates. */
  readonly device: Device;
  /** A short name for messages. */
  readonly name: string;
  /** What this resource has handed out and not taken back. */
  readonly live: LiveAllocations = new LiveAllocations();
  /** The driver calls' names, for errors. */
  readonly #calls: { allocate: string; free: string };

  /** A resource on `device` named `name`, calling the driver functions named in `calls`. */
  protected constructor(device: Device, name: string, calls: { allocate: string; free: string }) {
    this.device = device;
    this.name = name;
    this.#calls = calls;
  }

  /** Where the memory comes from, for out-of-memory reports. */
  protected abstract get source(): MemorySource;
  /** The driver's allocation into `out[0]`; its CUresult. */
  protected abstract driverAllocate(out: BigUint64Array, bytes: bigint): number;
  /** The driver's free; its CUresult. */
  protected abstract driverFree(address: bigint): number;

  /** Allocates `bytes`; OutOfMemoryError (with free/total of the source) when refused. */
  allocate(bytes: number): bigint {
    checkByteCount(bytes, "bytes");
    if (bytes === 0) return 0n;
    this.device.activate();
    const result = this.driverAllocate(addressOut, BigInt(bytes));
    checkDriverAllocation(result, this.#calls.allocate, this.source, bytes);
    const address = addressOut[0];
    this.live.add(address, bytes);
    this.device.retainUser();
    return address;
  }

  /** Frees, after checking the address is a live allocation of this resource. */
  deallocate(address: bigint, bytes: number): void {
    if (bytes === 0 && address === 0n) return;
    this.live.verify(address, bytes, this.name);
    this.device.activate();
    check(this.driverFree(address), this.#calls.free);
    this.live.remove(address, bytes);
    this.device.releaseUser();
  }
}
