/**
 * A pool's limit on the bytes it reserves: its value (bytes, "8GiB", "70%" of the memory it
 * draws from, or Infinity), whether a growth fits under it, and how close allocation is to it.
 *
 * @module
 */

import { formatBytes } from "../../errors.ts";
import { parseByteLimit } from "../limit.ts";
import type { MemorySource } from "../out_of_memory.ts";
import type { PoolTally } from "./pool_tally.ts";

/** The limit of one pool (see the module). */
export class PoolLimit {
  #bytes = Infinity;
  readonly #source: MemorySource;
  readonly #tally: PoolTally;

  /** The limit of a pool counting in `tally`, drawing on `source` (whose total "70%" is of). */
  constructor(source: MemorySource, tally: PoolTally) {
    this.#source = source;
    this.#tally = tally;
  }

  /** Most bytes the pool may reserve (Infinity: no limit). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Sets the limit: bytes, "8GiB", "70%" of the source's total, or Infinity. */
  set(value: number | string): void {
    this.#bytes = value === Infinity
      ? Infinity
      : parseByteLimit(value, this.#source.memInfo().total);
  }

  /** Why reserving `bytes` more is refused, or undefined when it fits. */
  refusal(bytes: number): string | undefined {
    return this.#tally.reserved.current + bytes > this.#bytes
      ? `the pool's limit of ${formatBytes(this.#bytes)} would be exceeded`
      : undefined;
  }

  /** Allocated bytes over the limit (over the source's total when there is none), 0..1. */
  pressure(): number {
    const ceiling = Number.isFinite(this.#bytes) ? this.#bytes : this.#source.memInfo().total;
    return ceiling > 0 ? Math.min(1, this.#tally.allocated.current / ceiling) : 1;
  }
}
