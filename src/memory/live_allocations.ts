/**
 * The set of addresses a resource has handed out and not taken back, so that a foreign, double
 * or mis-sized free is a typed error before it reaches the driver, and live bytes are exact.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";

/** Live allocations of one resource, by address. */
export class LiveAllocations {
  readonly #bytesByAddress = new Map<bigint, number>();
  #liveBytes = 0;
  #peakBytes = 0;

  /** Number of live allocations. */
  get count(): number {
    return this.#bytesByAddress.size;
  }

  /** Bytes in live allocations. */
  get bytes(): number {
    return this.#liveBytes;
  }

  /** The most bytes live at once since creation. */
  get peakBytes(): number {
    return this.#peakBytes;
  }

  /** Records a new allocation. */
  add(address: bigint, bytes: number): void {
    this.#bytesByAddress.set(address, bytes);
    this.#liveBytes += bytes;
    if (this.#liveBytes > this.#peakBytes) this.#peakBytes = this.#liveBytes;
  }

  /** Throws InvalidArgumentError unless `address` is live with exactly `bytes` bytes. */
  verify(address: bigint, bytes: number, owner: string): void {
    const recorded = this.#bytesByAddress.get(address);
    if (recorded === undefined) {
      throw new InvalidArgumentError(
        "address",
        `an address allocated by ${owner} and not yet freed`,
        `0x${address.toString(16)}`,
      );
    }
    if (recorded !== bytes) {
      throw new InvalidArgumentError(
        "bytes",
        `${recorded} (the size allocated at this address)`,
        bytes,
      );
    }
  }

  /** Forgets an allocation checked with {@linkcode LiveAllocations.verify}. */
  remove(address: bigint, bytes: number): void {
    this.#bytesByAddress.delete(address);
    this.#liveBytes -= bytes;
  }

  /** Every live allocation as [address, bytes] pairs. */
  entries(): [bigint, number][] {
    return [...this.#bytesByAddress];
  }
}
