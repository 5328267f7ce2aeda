/**
 * Stream-ordered reuse: a block freed after other streams used it (recordStream, or a free on
 * another stream) waits here until events recorded on those streams at the free have completed,
 * and only then goes back to its free lists. The host never blocks on it. Also the other two
 * halves of reuse across streams: noting a use (recordStream) and borrowing a free block of
 * another stream.
 *
 * @module
 */

import { Event } from "../../cuda/event.ts";
import { type Stream, streamIdle, streamWaitFor } from "../../cuda/stream.ts";
import type { StreamFreeLists } from "./stream_free_lists.ts";
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
   * complete: true when it is held, false when it is reusable now. A stream with no work left
   * (its uses of the block are done) needs no event: held until the next miss collected it, a
   * staged upload's buffer made the next same-sized request carve another block, and repeated
   * mesh builds remapped memory every time (bench/RESULTS.md). A stream closed since cannot take
   * an event, and its queued work still runs: its device is waited for instead (rare: a buffer
   * freed after a stream that used it was closed).
   */
  defer(block: Block, device: MemoryDevice): boolean {
    const events: Event[] = [];
    for (const used of block.useStreams!) {
      if (used?.closed) {
        used.device.synchronize();
        continue;
      }
      if (streamIdle(used, used?.device ?? device)) continue;
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

/** Notes that `block` is used on `stream` too (nothing when that is the block's own stream). */
export function noteUse(block: Block, stream: Stream | null): void {
  if (stream === block.segment.stream) return;
  if (block.useStreams === null) block.useStreams = [stream];
  else if (!block.useStreams.includes(stream)) block.useStreams.push(stream);
}

/**
 * The best-fitting free block of another stream than `key`, or null. Without `wait`, only from
 * a stream with all its work done, so the block's earlier uses are complete. With `wait`, from
 * any open stream: `key`'s stream is made to wait for that stream's work queued so far. The
 * block stays its segment's: freed on `key`, it goes back to its own stream's lists once
 * `key`'s work up to the free is done (the recordStream path).
 */
export function borrowFrom(
  freeLists: ReadonlyMap<Stream | null, StreamFreeLists>,
  size: number,
  small: boolean,
  key: Stream | null,
  wait: boolean,
  device: MemoryDevice,
): Block | null {
  if (freeLists.size < 2) return null;
  for (const [owner, lists] of freeLists) {
    if (owner === key || owner?.closed) continue;
    const index = small ? lists.small : lists.large;
    if (index.largest < size) continue;
    if (!wait && !streamIdle(owner, device)) continue;
    if (wait) streamWaitFor(key, owner, device);
    const block = index.takeBestFit(size)!;
    // Used on `key` from now on: whichever stream it is freed on, reuse waits for key's work.
    block.useStreams = [key];
    return block;
  }
  return null;
}
