/**
 * A limit as a layer, in the manner of RMM's limiting_resource_adaptor: wraps any resource and
 * refuses (OutOfMemoryError, before the upstream is called) an allocation that would take what
 * it has handed out past the limit. A MemoryPool's own `limit` option caps what the pool reserves;
 * this caps what passes through, over a pool, a driver resource or anything else.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";
import { formatBytes } from "../errors.ts";
import { checkByteCount, checkOptions } from "../validate.ts";
import { parseByteLimit } from "./limit.ts";
import { outOfMemoryError } from "./out_of_memory.ts";
import {
  type BlockResource,
  checkMemoryResource,
  isBlockResource,
  type MemoryResource,
  type ResourceBlock,
} from "./resource.ts";

/** Options for {@linkcode LimitingResource}. */
export interface LimitingResourceOptions {
  /** Most bytes handed out at once: bytes, "8GiB", or "70%" of the device's memory. */
  limit: number | string;
}

/**
 * Wraps `upstream` with a byte limit on what is live through it. Frees always pass through. Over
 * a resource with the block path (a MemoryPool) it has that path too, counting each block's size.
 *
 * @example
 * ```ts
 * import { DeviceBuffer, HostResource, LimitingResource, OutOfMemoryError } from "@gpumem/gpumem";
 * const limited = new LimitingResource(new HostResource(), { limit: "1MiB" });
 * using a = DeviceBuffer.allocate(768 << 10, { resource: limited });
 * try {
 *   DeviceBuffer.allocate(512 << 10, { resource: limited });
 * } catch (error) {
 *   console.log(error instanceof OutOfMemoryError); // true: 1.25 MiB would pass the limit
 * }
 * ```
 */
export class LimitingResource implements MemoryResource {
  /** The wrapped resource. */
  readonly upstream: MemoryResource;
  /** The upstream's device. */
  readonly device: MemoryDevice;
  /** `limit(<upstream>)`. */
  readonly name: string;
  /** The limit in bytes. */
  readonly limit: number;
  #live = 0;
  #peak = 0;
  /** The block path, present only when the upstream has one (see BlockResource). */
  readonly allocateBlock?: BlockResource["allocateBlock"];
  /** The block path's free, present only when the upstream has one. */
  readonly deallocateBlock?: BlockResource["deallocateBlock"];
  /** Marks a block as used on another stream, present only when the upstream has the block path. */
  readonly recordStream?: BlockResource["recordStream"];

  /** Wraps `upstream` under `options.limit`. */
  constructor(upstream: MemoryResource, options: LimitingResourceOptions) {
    checkMemoryResource(upstream, "upstream");
    checkOptions(options);
    const total = (upstream.memInfo?.() ?? upstream.device.memInfo()).total;
    this.limit = parseByteLimit(options.limit, total, "options.limit");
    this.upstream = upstream;
    this.device = upstream.device;
    this.name = `limit(${upstream.name})`;
    if (isBlockResource(upstream)) {
      // Instance properties, not methods: isBlockResource must see them only when they work.
      const sizes = new WeakMap<ResourceBlock, number>();
      this.allocateBlock = (bytes: number, stream?: Stream, label?: string): ResourceBlock => {
        this.#admit(bytes);
        const block = upstream.allocateBlock(bytes, stream, label);
        sizes.set(block, bytes);
        this.#add(bytes);
        return block;
      };
      this.deallocateBlock = (block, stream) => {
        upstream.deallocateBlock(block, stream);
        this.#live -= sizes.get(block) ?? 0;
        sizes.delete(block);
      };
      this.recordStream = (block, stream) => upstream.recordStream(block, stream);
    }
  }

  /** Whether its upstream's addresses hold no memory (then neither do its own). */
  get addressesOnly(): boolean {
    return this.upstream.addressesOnly === true;
  }

  /** Bytes handed out through it now. */
  get liveBytes(): number {
    return this.#live;
  }

  /** The most bytes handed out through it at once. */
  get peakBytes(): number {
    return this.#peak;
  }

  /** Allocates from the upstream unless `bytes` more would pass the limit. */
  allocate(bytes: number, stream?: Stream): bigint {
    checkByteCount(bytes, "bytes");
    this.#admit(bytes);
    const address = this.upstream.allocate(bytes, stream);
    this.#add(bytes);
    return address;
  }

  /** Passes through, and stops counting the bytes. */
  deallocate(address: bigint, bytes: number, stream?: Stream): void {
    this.upstream.deallocate(address, bytes, stream);
    this.#live -= bytes;
  }

  /** The upstream's memory figures. */
  memInfo(): { free: number; total: number } {
    return this.upstream.memInfo?.() ?? this.device.memInfo();
  }

  #admit(bytes: number): void {
    if (this.#live + bytes <= this.limit) return;
    throw outOfMemoryError(this.device, bytes, undefined, [
      `refused: ${this.name}'s limit of ${formatBytes(this.limit)} would be exceeded ` +
      `(${formatBytes(this.#live)} live)`,
    ]);
  }

  #add(bytes: number): void {
    this.#live += bytes;
    if (this.#live > this.#peak) this.#peak = this.#live;
  }
}
