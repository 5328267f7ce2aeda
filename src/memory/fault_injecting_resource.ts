/**
 * A resource that fails on purpose: every Nth allocation, or a random share of them from a seeded
 * generator, so tests can drive every out-of-memory path and replay a failing run from its seed.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";
import { type FaultOptions, FaultSchedule } from "../fault_schedule.ts";
import {
  type BlockResource,
  isBlockResource,
  type MemoryResource,
  type ResourceBlock,
} from "./resource.ts";

export { type FaultOptions, FaultSchedule } from "../fault_schedule.ts";

/**
 * Wraps `upstream`; injected failures throw OutOfMemoryError before the upstream is called, so
 * nothing leaks. Frees always pass through. Over a resource with the block path (a MemoryPool) it
 * has that path too, so buffers keep their fast free and `recordStream` still reaches the pool.
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
  /** The block path, present only when the upstream has one (see BlockResource). */
  readonly allocateBlock?: BlockResource["allocateBlock"];
  /** The block path's free, present only when the upstream has one. */
  readonly deallocateBlock?: BlockResource["deallocateBlock"];
  /** Marks a block as used on another stream, present only when the upstream has the block path. */
  readonly recordStream?: BlockResource["recordStream"];

  /** Wraps `upstream` with the failure schedule in `options`. */
  constructor(upstream: MemoryResource, options: FaultOptions) {
    this.schedule = new FaultSchedule(options);
    this.upstream = upstream;
    this.device = upstream.device;
    this.name = `faults(${upstream.name})`;
    if (isBlockResource(upstream)) {
      // Instance properties, not methods: isBlockResource must see them only when they work.
      this.allocateBlock = (bytes: number, stream?: Stream, label?: string): ResourceBlock => {
        this.schedule.attempt(bytes, this.device, this.name);
        return upstream.allocateBlock(bytes, stream, label);
      };
      this.deallocateBlock = (block, stream) => upstream.deallocateBlock(block, stream);
      this.recordStream = (block, stream) => upstream.recordStream(block, stream);
    }
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
