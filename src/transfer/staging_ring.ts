/**
 * A ring of pinned staging buffers, each with the event that says when the DMA that last used it
 * is done: the double (or triple) buffering of a staged transfer.
 *
 * @module
 */

import { Event } from "../cuda/event.ts";
import type { Stream } from "../cuda/stream.ts";
import type { MemoryPool } from "../memory/pool/memory_pool.ts";
import { HostBuffer } from "./host_buffer.ts";

/** Staging buffers of one transfer, taken from a pinned pool and given back by close(). */
export class StagingRing {
  readonly #slots: HostBuffer[] = [];
  readonly #events: Event[] = [];
  readonly #inUse: boolean[] = [];
  readonly #stream: Stream;

  /** `count` buffers of `bytes` from `pool`, for DMAs on `stream`. */
  constructor(pool: MemoryPool, count: number, bytes: number, stream: Stream) {
    this.#stream = stream;
    try {
      for (let i = 0; i < count; i++) {
        this.#slots.push(HostBuffer.allocate(bytes, { pool, label: "transfer.staging" }));
        this.#events.push(new Event(stream.device, { timing: false }));
        this.#inUse.push(false);
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** How many buffers the ring has. */
  get size(): number {
    return this.#slots.length;
  }

  /**
   * Buffer `slot`'s first `bytes` bytes, once the DMA that last used the buffer is done (awaited
   * on a worker thread; the event loop stays free).
   */
  async take(slot: number, bytes: number): Promise<Uint8Array> {
    if (this.#inUse[slot]) {
      await this.#events[slot].synchronizeAsync();
      this.#inUse[slot] = false;
    }
    return this.#slots[slot].bytes.subarray(0, bytes);
  }

  /** Notes that buffer `slot` is used by the DMA just queued on the stream. */
  queued(slot: number): void {
    this.#events[slot].record(this.#stream);
    this.#inUse[slot] = true;
  }

  /**
   * Waits until the DMA that last used `slot` is done (a download then reads the buffer). Same
   * wait as take(), without taking.
   */
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
  }
}
