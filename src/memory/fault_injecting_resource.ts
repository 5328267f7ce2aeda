/**
 * A resource that fails on purpose: every Nth allocation, or a random share of them from a seeded
 * generator, so tests can drive every out-of-memory path and replay a failing run from its seed.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";
import { type FaultOptions, FaultSchedule } from "../fault_schedule.ts";
import type { MemoryResource } from "./resource.ts";

export { type FaultOptions, FaultSchedule } from "../fault_schedule.ts";

/**
 * Wraps `upstream`; injected failures throw OutOfMemoryError before the upstream is called, so
 * nothing leaks. Frees always pass through.
 */
export class FaultInjectingResource implements MemoryResource {
  /** The wrapped resource. */
  readonly upstream: MemoryResource;
  /** Whether its upstream's addresses hold no memory (then neither do its own). */
  get addressesOnly(): boolean {
    return this.upstream.addressesOnly === true;
  }
  /** The upstream's device. */
  readonly device: MemoryDevice;
  /** `faults(<upstream>)`. */
  readonly name: string;
  /** When allocations fail. */
  readonly schedule: FaultSchedule;

  /** Wraps `upstream` with the failure schedule in `options`. */
  constructor(upstream: MemoryResource, options: FaultOptions) {
    this.schedule = new FaultSchedule(options);
    this.upstream = upstream;
    this.device = upstream.device;
    this.name = `faults(${upstream.name})`;
  }

  /** Allocations attempted so far. */
  get attempts(): number {
    return this.schedule.attempts;
  }

  /** Failures injected so far. */
  get injected(): number {
    return this.schedule.injected;
  }

  /** Fails when the schedule says so, else allocates from the upstream. */
  allocate(bytes: number, stream?: Stream): bigint {
    this.schedule.attempt(bytes, this.device, this.name);
    return this.upstream.allocate(bytes, stream);
  }

  /** Passes through. */
  deallocate(address: bigint, bytes: number, stream?: Stream): void {
    this.upstream.deallocate(address, bytes, stream);
  }
}
