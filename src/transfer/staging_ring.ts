/**
 * The pinned staging buffers of one transfer, each with the event that says when the DMA that
 * last used it is done, handed out to the transfer's workers one at a time.
 *
 * @module
 */

import { Event } from "../cuda/event.ts";
import type { Stream } from "../cuda/stream.ts";
import type { MemoryPool } from "../memory/pool/memory_pool.ts";
import { HostBuffer } from "./host_buffer.ts";

/** Staging buffers taken from a pinned pool and given back by close(). */
export class StagingRing {
  readonly #slots: HostBuffer[] = [];
  readonly #events: Event[] = [];
  readonly #inUse: boolean[] = [];
  /** Free slots, least recently used first (its DMA most likely done). */
  readonly #free: number[] = [];
  readonly #waiting: ((slot: number) => void)[] = [];
  readonly #stream: Stream;

  /** `count` buffers of `bytes` from `pool`, for DMAs on `stream`. */
  constructor(pool: MemoryPool, count: number, bytes: number, stream: Stream) {
    this.#stream = stream;
    try {
      for (let i = 0; i < count; i++) {
        this.#slots.push(HostBuffer.allocate(bytes, { pool, label: "transfer.staging" }));
        this.#events.push(new Event(stream.device, { timing: false }));
        this.#inUse.push(false);
        this.#free.push(i);
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** A free slot, waiting for one to be released when all are taken. */
  acquire(): Promise<number> {
    const slot = this.#free.shift();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Hands `slot` to the next waiter, or back to the free list. */
  release(slot: number): void {
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(slot);
    else this.#free.push(slot);
  }

  /**
   * The first `bytes` bytes of `slot`'s buffer, once the DMA that last used it is done (awaited
   * on a worker thread; the event loop stays free).
   */
  async take(slot: number, bytes: number): Promise<Uint8Array> {
    await this.landed(slot);
    return this.#slots[slot].bytes.subarray(0, bytes);
  }

  /** Notes that `slot`'s buffer is used by the DMA just queued on the stream. */
  queued(slot: number): void {
    this.#events[slot].record(this.#stream);
    this.#inUse[slot] = true;
  }

  /** Waits until the DMA that last used `slot` is done (a download then reads the buffer). */
  async landed(slot: number): Promise<void> {
    if (!this.#inUse[slot]) return;
    await this.#events[slot].synchronizeAsync();
    this.#inUse[slot] = false;
  }

  /**
   * Gives every buffer back to the pool; one a DMA may still use is reused only once the stream
   * has done it. Idempotent.
   */
  close(): void {
    for (const slot of this.#slots.splice(0)) {
      if (!this.#stream.closed) slot.recordStream(this.#stream);
      slot.free();
    }
    for (const event of this.#events.splice(0)) event.close();
    this.#inUse.length = 0;
    this.#free.length = 0;
  }
}
