/**
 * The growable ranges a pool has open (ResizableBuffer's "vmm" strategy): each is address space
 * of its own whose mapped bytes the pool counts as allocated and reserved, under its limit, and
 * while any is open the pool cannot close.
 *
 * @module
 */

import { formatBytes } from "../../errors.ts";
import { checkPositiveByteCount } from "../../validate.ts";
import { EventOp } from "../../tracking/timeline.ts";
import type { AddressSpaceResource } from "../address_space/address_space_resource.ts";
import { GrowableRange, type RangeAccount } from "./growable_range.ts";
import type { PoolTally } from "./pool_tally.ts";

/** What the ranges ask of their pool. */
export interface RangeHost {
  /** The pool's counters. */
  readonly tally: PoolTally;
  /** Throws OutOfMemoryError unless `bytes` more fit under the limit (the cache freed once). */
  admit(bytes: number): void;
  /** Gives the pool's cached memory back. */
  freeCache(): void;
  /** Logs one of the pool's events. */
  log(op: number, bytes: number): void;
}

/** A pool's open growable ranges. */
export class GrowableRanges {
  readonly #open = new Set<GrowableRange>();
  readonly #host: RangeHost;

  /** Ranges counted in `host`. */
  constructor(host: RangeHost) {
    this.#host = host;
  }

  /** How many are open. */
  get size(): number {
    return this.#open.size;
  }

  /** Reserves a range of `maxBytes` (rounded up to the granularity) of `space`, nothing mapped. */
  reserve(space: AddressSpaceResource, maxBytes: number, label?: string): GrowableRange {
    checkPositiveByteCount(maxBytes, "maxBytes");
    const host = this.#host, tally = host.tally, open = this.#open;
    const bytes = space.roundUp(maxBytes);
    tally.upstreamCalls++;
    const address = space.reserve(bytes);
    const account: RangeAccount = {
      admit: (added) => host.admit(added),
      freeCache: () => {
        const before = tally.reserved.current;
        host.freeCache();
        return tally.reserved.current < before;
      },
      mapped: (delta) => {
        tally.upstreamCalls++;
        host.log(delta > 0 ? EventOp.reserve : EventOp.release, Math.abs(delta));
        tally.rangeMapped(delta);
      },
      closed: (range) => {
        tally.upstreamCalls++;
        open.delete(range);
        tally.allocations.sub(1);
      },
    };
    const range = new GrowableRange(space, address, bytes, label, account);
    open.add(range);
    tally.allocations.add(1);
    return range;
  }

  /** What is open, for the pool's refusal to close: "N growable ranges are open (…)". */
  describe(): string {
    const labels = [...this.#open].map((range) =>
      `${formatBytes(range.mappedBytes)} mapped in ${range.label ?? "(no label)"}`
    );
    return `${this.#open.size} growable ranges are open (${labels.join(", ")})`;
  }
}
