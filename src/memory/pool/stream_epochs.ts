/**
 * Which of a stream's free blocks no queued work can still touch, found without waiting. A block
 * freed on its stream may still be read or written by work queued there before the free; reusing
 * it on that stream is safe (stream order), but unmapping its memory is not until that work is
 * done. Rather than an event per free (too dear on the hot path) each filed block carries the
 * stream's epoch number, and the pool marks the stream (an event) only on its slow path: once a
 * mark has completed, every block filed before it is past its work. PyTorch synchronizes the
 * device before unmapping instead; this lets a growing pool give back memory without a wait.
 *
 * @module
 */

import { Event } from "../../cuda/event.ts";
import { type Stream, streamIdle } from "../../cuda/stream.ts";
import type { MemoryDevice } from "../../device/types.ts";

/** Marks not yet seen complete, at most (an idle stream completes them; a busy one waits). */
const MAX_MARKS = 8;

/** One stream's epochs (see the module). */
export class StreamEpochs {
  /** The epoch of blocks filed now: a block filed at epoch e is past its work once mark e is. */
  current = 0;
  /** Marks recorded and not yet seen complete, oldest first. */
  readonly #marks: { event: Event; epoch: number }[] = [];
  /** The newest epoch whose mark completed (-1: none yet). */
  #settled = -1;

  /**
   * The newest epoch whose blocks no queued work of the stream can touch. A stream with nothing
   * queued settles everything filed so far; a busy one is marked (its blocks filed so far settle
   * once the mark completes) and its earlier marks polled.
   */
  settle(stream: Stream | null, device: MemoryDevice): number {
    const marks = this.#marks;
    // A closed stream can take no new mark, and its queued work still runs (cuStreamDestroy does
    // not wait): only the marks it got before it closed settle its blocks. (On the cpu device
    // work is done when queued, so there it is idle.)
    if (stream?.closed && device.kind !== "cpu") return this.#poll();
    if (stream?.closed || streamIdle(stream, device)) {
      for (const done of marks.splice(0)) done.event.close();
      this.#settled = this.current++;
      return this.#settled;
    }
    if (marks.length < MAX_MARKS) {
      const event = new Event(device, { timing: false });
      event.record(stream ?? undefined);
      marks.push({ event, epoch: this.current++ });
    }
    return this.#poll();
  }

  /** The newest epoch whose mark has completed, dropping the marks it makes redundant. */
  #poll(): number {
    const marks = this.#marks;
    for (let i = marks.length - 1; i >= 0; i--) {
      if (!marks[i].event.query()) continue;
      this.#settled = marks[i].epoch;
      for (const done of marks.splice(0, i + 1)) done.event.close();
      break;
    }
    return this.#settled;
  }

  /** Closes the marks' events. */
  close(): void {
    for (const mark of this.#marks.splice(0)) mark.event.close();
  }
}
