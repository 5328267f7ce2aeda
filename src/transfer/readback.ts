/**
 * Readback: a ring of pinned slots that brings a buffer's state back to the host every frame
 * without waiting for it. Each frame's state is first copied device to device into the slot's
 * device side, on the compute stream (at memory speed, so the next frame's work may overwrite
 * the source at once); the copy to the host runs on a transfer stream, ordered after it by an
 * event, so neither the event loop nor the compute stream waits for it. The host is handed the
 * previous frame's slot, whose copy has had a whole frame to finish; with k slots, k − 1 frames
 * stay in flight and the host gets the one k − 1 frames back, so the copies run back to back even
 * when the host is late to ask for the next. A slot is reused only once its copy is done and the
 * host has given it back.
 *
 * @module
 */

import { DeviceBuffer } from "../buffers/device_buffer.ts";
import { ResizableBuffer } from "../buffers/resizable_buffer.ts";
import { Event } from "../cuda/event.ts";
import { checkOpenStream, Stream, streamWaitEvent, streamWaitFor } from "../cuda/stream.ts";
import type { MemoryDevice } from "../device/types.ts";
import {
  DisposedError,
  GpumemError,
  InvalidArgumentError,
  SlotsHeldError,
  TransferError,
} from "../errors.ts";
import { type FaultOptions, FaultSchedule } from "../fault_schedule.ts";
import type { MemoryPool } from "../memory/pool/memory_pool.ts";
import {
  checkBoolean,
  checkHostArrayConstructor,
  checkOptions,
  type HostArray,
  type HostArrayConstructor,
} from "../validate.ts";
import { HostBuffer } from "./host_buffer.ts";
import { pinnedPoolOf } from "./pinned_pool.ts";

/** Options for {@linkcode Readback}. */
export interface ReadbackOptions {
  /**
   * Pinned slots (2 to 16, default 2: the frame being copied and the one the host reads). k slots
   * keep k − 1 copies in flight, handing each frame out k − 1 frames later.
   */
  slots?: number;
  /** The stream copies run on (default: one of the ring's own, closed with it). */
  stream?: Stream;
  /** The pinned pool slots come from (default: the device's). */
  pool?: MemoryPool;
  /** The slots' label in the tracker's reports (default `readback`). */
  label?: string;
  /**
   * Copy each frame's state into a device-side slot on the compute stream first (default true),
   * so the next frame's work may overwrite the source while the copy to the host runs. false
   * for a source nothing writes while its frames are read (a ping-pong state): the host copy
   * then reads the source itself, saving the device copy and its memory.
   */
  deviceSnapshot?: boolean;
  /** Fail copies on purpose (tests): a failed frame rejects, the ring stays usable. */
  faults?: FaultOptions;
}

/** What a Readback has done so far. */
export interface ReadbackStats {
  /** Frames queued. */
  frames: number;
  /** Bytes copied back. */
  bytes: number;
  /** Frames whose copy failed. */
  failed: number;
  /** Times a slot was reallocated larger (the source grew past it). */
  slotGrowths: number;
}

/** One slot: pinned memory and who has it. */
interface Slot {
  host: HostBuffer | null;
  /** The device side, with deviceSnapshot. */
  staged: DeviceBuffer | null;
  /** Recorded on the transfer stream after the slot's last copy to the host (its device side is free after it). */
  copied: Event | null;
  /** free; copying for a frame not yet handed out; held by the host. */
  state: "free" | "copying" | "held";
  /** The frame it was last given to. */
  frame: number;
}

/**
 * A frame's bytes in a pinned slot, valid until release() (or `using` scope end); then the slot
 * goes back to the ring and the views are refused (DisposedError).
 */
export class ReadbackFrame {
  /** The frame's number (0 for the first queued). */
  readonly index: number;
  /** The source's length when the frame was queued. */
  readonly byteLength: number;
  readonly #slot: Slot;
  readonly #ring: Readback;
  #released = false;

  /** @ignore The ring's. */
  constructor(ring: Readback, slot: Slot, index: number, byteLength: number) {
    this.#ring = ring;
    this.#slot = slot;
    this.index = index;
    this.byteLength = byteLength;
  }

  /** Whether release() has run (or the ring was closed). */
  get released(): boolean {
    return this.#released || this.#ring.closed;
  }

  /** The frame's bytes, a view over the slot (no copy). */
  get bytes(): Uint8Array {
    return this.typed(Uint8Array);
  }

  /** The frame as `type` elements (a view over the slot; byteLength must be a multiple). */
  typed<T extends HostArray>(type: HostArrayConstructor<T>): T {
    if (this.released) throw new DisposedError(this.toString());
    const kind = checkHostArrayConstructor(type) as HostArrayConstructor<T>;
    if (this.byteLength % kind.BYTES_PER_ELEMENT !== 0) {
      throw new InvalidArgumentError(
        "type",
        `an element size dividing the frame's ${this.byteLength} bytes`,
        kind.name,
      );
    }
    if (this.byteLength === 0) return new kind(0);
    return this.#slot.host!.typed(kind, 0, this.byteLength / kind.BYTES_PER_ELEMENT);
  }

  /** Gives the slot back to the ring (idempotent). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#slot.frame === this.index && this.#slot.state === "held") this.#slot.state = "free";
  }

  /** Same as release(). */
  [Symbol.dispose](): void {
    this.release();
  }

  /** e.g. `ReadbackFrame(3, 4.00 MiB)`. */
  toString(): string {
    return `ReadbackFrame(${this.index}, ${this.byteLength} B${this.released ? ", released" : ""})`;
  }
}

/**
 * Reads `source` back every frame through pinned slots, overlapping each copy with the next
 * frame's compute. `frame(compute)` queues this frame's copy and resolves with the previous
 * frame (null the first time; with k slots, the frame k − 1 back, null the first k − 1 times);
 * `flush()` hands out what is left, oldest first. The source may be a
 * ResizableBuffer whose length changes between frames: slots grow, each frame has its own length.
 *
 * @example
 * ```ts
 * import { cpuDevice, DeviceBuffer, Readback, Stream } from "@gpumem/gpumem";
 * using compute = new Stream(cpuDevice);
 * using positions = DeviceBuffer.allocate(16, { device: cpuDevice });
 * using ring = new Readback(positions);
 * for (let step = 0; step < 3; step++) {
 *   positions.fill(step); // a frame's work, queued on `compute` in a real program
 *   using previous = await ring.frame(compute); // this frame queued, the last one handed back
 *   if (previous !== null) console.log(previous.index, previous.bytes[0]); // 0 0, then 1 1
 * }
 * using last = await ring.flush();
 * console.log(last?.index, last?.bytes[0]); // 2 2
 * ```
 */
export class Readback {
  /** The buffer read back. */
  readonly source: DeviceBuffer | ResizableBuffer;
  /** Its device. */
  readonly device: MemoryDevice;
  /** The stream copies run on. */
  readonly stream: Stream;
  readonly #ownsStream: boolean;
  readonly #slots: Slot[];
  readonly #pool: MemoryPool;
  readonly #label: string;
  readonly #faults: FaultSchedule | null;
  readonly #deviceSnapshot: boolean;
  /** Frames queued and not handed out yet, oldest first (at most slots − 1 after frame()). */
  readonly #queued: { slot: Slot; index: number; copy: Promise<ReadbackFrame> }[] = [];
  #closed = false;
  readonly #stats: ReadbackStats = { frames: 0, bytes: 0, failed: 0, slotGrowths: 0 };

  /** A ring over `source`; see {@linkcode ReadbackOptions}. */
  constructor(source: DeviceBuffer | ResizableBuffer, options: ReadbackOptions = {}) {
    checkOptions(options);
    if (!(source instanceof ResizableBuffer) && !(source instanceof DeviceBuffer)) {
      throw new InvalidArgumentError("source", "a DeviceBuffer or a ResizableBuffer", source);
    }
    if (source.disposed) throw new DisposedError(source.toString());
    const slots = options.slots ?? 2;
    if (!Number.isSafeInteger(slots) || slots < 2 || slots > 16) {
      throw new InvalidArgumentError("options.slots", "an integer from 2 to 16", slots);
    }
    const device = source.device;
    if (options.stream !== undefined) checkOpenStream(options.stream, device, "options.stream");
    const { pool } = pinnedPoolOf({ device, pool: options.pool }, "options.pool");
    if (options.label !== undefined && typeof options.label !== "string") {
      throw new InvalidArgumentError("options.label", "a string", options.label);
    }
    this.#faults = options.faults === undefined ? null : new FaultSchedule(options.faults);
    this.#deviceSnapshot = checkBoolean(options.deviceSnapshot, true, "options.deviceSnapshot");
    this.source = source;
    this.device = device;
    this.#pool = pool;
    this.#label = options.label ?? "readback";
    this.#slots = Array.from(
      { length: slots },
      () => ({ host: null, staged: null, copied: null, state: "free", frame: -1 }),
    );
    this.#ownsStream = options.stream === undefined;
    this.stream = options.stream ?? new Stream(device);
  }

  /** Slots in the ring. */
  get slots(): number {
    return this.#slots.length;
  }

  /** Whether close() has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** What it has done so far (a copy). */
  get stats(): ReadbackStats {
    return { ...this.#stats };
  }

  /**
   * Queues this frame's copy of the source (its length now) into a free slot, after the work
   * queued so far on `after` (default null: the device's legacy default stream), and resolves
   * with the previous frame, or null for the first. Bad use throws before anything is queued:
   * DisposedError for a closed ring or a freed source, SlotsHeldError when the host holds every
   * slot. A frame whose copy failed rejects (TransferError); the ring stays usable.
   */
  frame(after: Stream | null = null): Promise<ReadbackFrame | null> {
    this.#assertOpen();
    if (after !== null) checkOpenStream(after, this.device, "after");
    const source = this.source;
    if (source.disposed) throw new DisposedError(source.toString());
    const slot = this.#slots.find((candidate) => candidate.state === "free");
    if (slot === undefined) throw new SlotsHeldError(this.#slots.length);
    const bytes = source instanceof ResizableBuffer ? source.length : source.byteLength;
    this.#fit(slot, bytes);
    const index = this.#stats.frames++;
    slot.state = "copying";
    slot.frame = index;
    const copy = this.#copy(slot, index, bytes, after);
    copy.catch(() => {}); // its rejection is the caller's, once handed out
    this.#queued.push({ slot, index, copy });
    // k slots keep k − 1 frames in flight: the host is handed the oldest once that many are.
    const oldest = this.#queued.length >= this.#slots.length ? this.#queued.shift()! : null;
    return oldest === null ? Promise.resolve(null) : this.#handOut(oldest);
  }

  /**
   * Hands out the oldest frame queued and not handed out yet, null when none is left: after the
   * last frame(), call it until null (once with 2 slots, up to k − 1 times with k).
   */
  flush(): Promise<ReadbackFrame | null> {
    this.#assertOpen();
    const oldest = this.#queued.shift();
    return oldest === undefined ? Promise.resolve(null) : this.#handOut(oldest);
  }

  /**
   * Gives the slots back to the pinned pool (after their copies finish) and closes the ring's own
   * stream; frames still held are released. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queued.length = 0;
    for (const slot of this.#slots) {
      slot.host?.free(); // the pool takes it back once the copies queued into it are done
      slot.staged?.free(); // likewise, ordered after the copy reading it (recordStream)
      slot.copied?.close();
      slot.host = null;
      slot.staged = null;
      slot.copied = null;
      slot.state = "free";
    }
    if (this.#ownsStream) this.stream.close();
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** e.g. `Readback(cuda:0, 2 slots, 10 frames)`. */
  toString(): string {
    return `Readback(${this.device.id}, ${this.#slots.length} slots, ${this.#stats.frames} frames${
      this.#closed ? ", closed" : ""
    })`;
  }

  #handOut(entry: { slot: Slot; index: number; copy: Promise<ReadbackFrame> }) {
    if (entry.slot.frame === entry.index && entry.slot.state === "copying") {
      entry.slot.state = "held";
    }
    return entry.copy;
  }

  /** Gives `slot` room for `bytes` (a larger slot when the source grew past it). */
  #fit(slot: Slot, bytes: number): void {
    if ((slot.host?.byteLength ?? 0) >= bytes || bytes === 0) return;
    const grown = Math.max(bytes, 2 * (slot.host?.byteLength ?? 0));
    const host = HostBuffer.allocate(grown, { pool: this.#pool, label: this.#label });
    let staged: DeviceBuffer | null = null;
    if (this.#deviceSnapshot) {
      try {
        staged = DeviceBuffer.allocate(grown, {
          device: this.device,
          label: `${this.#label}.staging`,
        });
      } catch (error) {
        host.free();
        throw error;
      }
    }
    if (slot.host !== null) this.#stats.slotGrowths++;
    slot.host?.free(); // a free slot's copies are done, or ordered before its reuse
    slot.staged?.free();
    slot.host = host;
    slot.staged = staged;
  }

  async #copy(slot: Slot, index: number, bytes: number, after: Stream | null) {
    try {
      if (this.#faults?.fails()) {
        throw new TransferError("to host", bytes, true, `frame ${index} failed on purpose`);
      }
      if (bytes > 0) {
        let from = this.source.view(0, bytes);
        const staged = slot.staged;
        if (staged !== null) {
          // The device side is free once its own last copy to the host is done (frames ago, with
          // the ring's other slots in between): the compute stream waits for that event alone,
          // then snapshots the source in its own order.
          if (slot.copied !== null) streamWaitEvent(after, slot.copied, this.device);
          this.device.ops.deviceToDevice(staged.ptr, from.ptr, bytes, after?.handle ?? undefined);
          if (after !== null) staged.recordStream(after);
          from = staged.view(0, bytes);
        }
        streamWaitFor(this.stream, after, this.device);
        from.recordStream(this.stream); // freed meanwhile, it is not reused under the copy
        const copy = from.copyToHostAsync(this.stream, slot.host!.typed(Uint8Array, 0, bytes));
        if (staged !== null) {
          slot.copied ??= new Event(this.device, { timing: false });
          slot.copied.record(this.stream);
        }
        await copy;
      }
      this.#stats.bytes += bytes;
      return new ReadbackFrame(this, slot, index, bytes);
    } catch (error) {
      this.#stats.failed++;
      if (slot.frame === index) slot.state = "free";
      if (error instanceof GpumemError) throw error;
      throw new TransferError("to host", bytes, false, `frame ${index}: ${error}`, {
        cause: error,
      });
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new DisposedError(this.toString(), "was used after close()");
  }
}
