/**
 * A resource that fails on purpose: every Nth allocation, or a random share of them from a seeded
 * generator, so tests can drive every out-of-memory path and replay a failing run from its seed.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";
import { InvalidArgumentError, OutOfMemoryError } from "../errors.ts";
import type { MemoryResource } from "./resource.ts";

/** Options for {@linkcode FaultInjectingResource}: at least one of failEvery and failRate. */
export interface FaultOptions {
  /** Fail allocation number N, 2N, 3N, ... (1-based). */
  failEvery?: number;
  /** Fail this share (0..1) of allocations, drawn from a generator seeded with `seed`. */
  failRate?: number;
  /** The generator's seed (default 1). */
  seed?: number;
}

/** When to fail: the schedule shared by the fault-injecting wrappers. */
export class FaultSchedule {
  /** Calls that could fail, so far. */
  attempts = 0;
  /** Failures injected so far. */
  injected = 0;
  readonly #every: number;
  readonly #rate: number;
  #state: number;

  /** A schedule from `options`; InvalidArgumentError for a bad one. */
  constructor(options: FaultOptions) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError("options", "an options object", options);
    }
    const { failEvery = 0, failRate = 0, seed = 1 } = options;
    if (!Number.isSafeInteger(failEvery) || failEvery < 0) {
      throw new InvalidArgumentError("failEvery", "a non-negative integer", failEvery);
    }
    if (!(failRate >= 0 && failRate <= 1)) {
      throw new InvalidArgumentError("failRate", "a number in [0, 1]", failRate);
    }
    this.#every = failEvery;
    this.#rate = failRate;
    this.#state = seed >>> 0 || 1;
  }

  /**
   * Counts an attempt; throws OutOfMemoryError (as a real upstream would) when this one is to
   * fail, naming the wrapper `by` and what it was asked for.
   */
  attempt(bytes: number, device: MemoryDevice, by: string): void {
    this.attempts++;
    if (
      (this.#every > 0 && this.attempts % this.#every === 0) ||
      (this.#rate > 0 && this.#next() < this.#rate)
    ) {
      this.injected++;
      throw new OutOfMemoryError(
        { requestedBytes: bytes, device: device.id, freeBytes: NaN, totalBytes: NaN },
        [`injected failure ${this.injected} (attempt ${this.attempts}) by ${by}`],
      );
    }
  }

  /** xorshift32: small, seedable, the same sequence on every machine. */
  #next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state / 2 ** 32;
  }
}

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
