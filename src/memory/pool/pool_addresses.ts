/**
 * The blocks a pool handed out through the address API (MemoryResource's allocate/deallocate),
 * by address: DeviceBuffer keeps its block and never looks here.
 *
 * @module
 */

import { InvalidArgumentError } from "../../errors.ts";
import type { Block } from "./block.ts";

/** Blocks handed out by address (see the module). */
export class PoolAddresses {
  readonly #blocks = new Map<bigint, Block>();

  /** Remembers `block` under its address. */
  remember(block: Block): void {
    this.#blocks.set(block.address, block);
  }

  /**
   * The block handed out at `address` for `bytes`, forgotten; InvalidArgumentError naming
   * `poolName` for a foreign address, a wrong size or a second free.
   */
  take(address: bigint, bytes: number, poolName: string): Block {
    const block = this.#blocks.get(address);
    if (block === undefined || block.requested !== bytes) {
      throw new InvalidArgumentError(
        "address",
        `an address ${poolName} handed out, with its size`,
        `0x${address.toString(16)} (${bytes} B)`,
      );
    }
    this.#blocks.delete(address);
    return block;
  }
}
