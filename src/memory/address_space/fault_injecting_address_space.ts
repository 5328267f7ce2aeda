/**
 * Fault injection for resources that reserve and map: reserve and map fail on the schedule (as a
 * device out of memory would), so the pool's growth-in-place paths can be driven through every
 * failure. Release and unmap always pass through.
 *
 * @module
 */

import type { MemoryDevice } from "../../device/types.ts";
import { type FaultOptions, FaultSchedule } from "../fault_injecting_resource.ts";
import { AddressSpaceResource } from "./address_space_resource.ts";

/**
 * Wraps an AddressSpaceResource; injected failures throw OutOfMemoryError before the upstream is
 * called, so nothing leaks.
 *
 * @example
 * ```ts
 * import { MemoryPool } from "@gpumem/gpumem";
 * import { FaultInjectingAddressSpace } from "./fault_injecting_address_space.ts";
 * import { VirtualResource } from "../virtual_resource.ts";
 * const flaky = new FaultInjectingAddressSpace(new VirtualResource(), { failEvery: 3 });
 * const pool = new MemoryPool(flaky);
 * const small = pool.allocateBlock(4096); // reserve and map: attempts 1 and 2
 * const large = pool.allocateBlock(8 << 20); // reserve fails (3); the pool retries: 4 and 5
 * console.log(flaky.schedule.injected); // 1
 * pool.deallocateBlock(small);
 * pool.deallocateBlock(large);
 * ```
 */
export class FaultInjectingAddressSpace extends AddressSpaceResource {
  /** The wrapped resource. */
  readonly upstream: AddressSpaceResource;
  /** The upstream's device. */
  readonly device: MemoryDevice;
  /** `faults(<upstream>)`. */
  readonly name: string;
  /** The upstream's. */
  readonly granularity: number;
  /** The upstream's. */
  readonly defaultRangeBytes: number;
  /** When reserve and map fail. */
  readonly schedule: FaultSchedule;

  /** Wraps `upstream` with the failure schedule in `options`. */
  constructor(upstream: AddressSpaceResource, options: FaultOptions) {
    super();
    this.schedule = new FaultSchedule(options);
    this.upstream = upstream;
    this.device = upstream.device;
    this.name = `faults(${upstream.name})`;
    this.granularity = upstream.granularity;
    this.defaultRangeBytes = upstream.defaultRangeBytes;
  }

  /** Fails on schedule, else reserves from the upstream. */
  protected reserveRange(bytes: number): bigint {
    this.schedule.attempt(bytes, this.device, this.name);
    return this.upstream.reserve(bytes);
  }

  /** Passes through. */
  protected releaseRange(address: bigint, bytes: number): void {
    this.upstream.release(address, bytes);
  }

  /** Fails on schedule, else maps in the upstream. */
  protected mapRange(address: bigint, bytes: number): void {
    this.schedule.attempt(bytes, this.device, this.name);
    this.upstream.map(address, bytes);
  }

  /** One attempt for a whole map call, however many pieces; then maps them in the upstream. */
  protected override mapPieces(address: bigint, pieces: readonly number[]): void {
    const bytes = pieces.reduce((sum, piece) => sum + piece, 0);
    this.schedule.attempt(bytes, this.device, this.name);
    this.upstream.map(address, bytes, pieces[0]);
  }

  /** Passes through. */
  protected unmapRange(address: bigint, bytes: number): void {
    this.upstream.unmap(address, bytes);
  }
}
