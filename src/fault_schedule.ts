/**
 * Failing on purpose, on a schedule: every Nth attempt, or a seeded random share, so tests can
 * drive every failure path and replay a failing run from its seed. Used by the fault-injecting
 * resources (allocations fail as OutOfMemoryError) and by TransferPipeline (pieces fail as
 * TransferError).
 *
 * @module
 */

import type { MemoryDevice } from "./device/types.ts";
import { checkOptions } from "./validate.ts";
import { InvalidArgumentError, OutOfMemoryError } from "./errors.ts";

/** When to fail on purpose: at least one of failEvery and failRate. */
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
    checkOptions(options);
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

  /** Counts an attempt; true when this one is to fail (and counts it as injected). */
  fails(): boolean {
    this.attempts++;
    const fail = (this.#every > 0 && this.attempts % this.#every === 0) ||
      (this.#rate > 0 && this.#next() < this.#rate);
    if (fail) this.injected++;
    return fail;
  }

  /**
   * Counts an allocation attempt; throws OutOfMemoryError (as a real upstream would) when this
   * one is to fail, naming the wrapper `by` and what it was asked for.
   */
  attempt(bytes: number, device: MemoryDevice, by: string): void {
    if (!this.fails()) return;
    throw new OutOfMemoryError(
      { requestedBytes: bytes, device: device.id, freeBytes: NaN, totalBytes: NaN },
      [`injected failure ${this.injected} (attempt ${this.attempts}) by ${by}`],
    );
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
