/**
 * Stream-ordered reuse: a block freed after other streams used it (recordStream, or a free on
 * another stream) waits here until events recorded on those streams at the free have completed,
 * and only then goes back to its free lists. The host never blocks on it.
 *
 * @module
 */

import { Event } from "../../cuda/event.ts";
import type { MemoryDevice } from "../../device/types.ts";
import type { Block } from "./block.ts";

/** Blocks waiting for other streams' work before they can be reused. */
export class PendingReuse {
  #blocks: Block[] = [];

  /** Blocks waiting now. */
  get size(): number {
    return this.#blocks.length;
  }

  /**
   * Records an event on every stream that used `block` besides its own and holds it until they
   * complete: true when it is held, false when it is reusable now. A stream closed since cannot
   * take an event, and its queued work still runs: its device is waited for instead (rare: a
   * buffer freed after a stream that used it was closed).
   */
  defer(block: Block, device: MemoryDevice): boolean {
    const events: Event[] = [];
    for (const used of block.useStreams!) {
      if (used?.closed) {
        used.device.synchronize();
        continue;
      }
      const event = new Event(used?.device ?? device, { timing: false });
      event.record(used ?? undefined);
      events.push(event);
    }
    block.useStreams = null;
    if (events.length === 0) return false;
    block.pendingEvents = events;
    this.#blocks.push(block);
    return true;
  }

  /** Hands `file` every held block whose events have all completed; returns how many. */
  collect(file: (block: Block) => void): number {
    if (this.#blocks.length === 0) return 0;
    const waiting: Block[] = [];
    let done = 0;
    for (const block of this.#blocks) {
      if (block.pendingEvents!.every((event) => event.query())) {
        for (const event of block.pendingEvents!) event.close();
        block.pendingEvents = null;
        file(block);
        done++;
      } else waiting.push(block);
    }
    this.#blocks = waiting;
    return done;
  }
}
