/**
 * The readback ring's contracts, written once: on the cpu device in every suite, against the
 * CUDA driver on a GPU host. Each frame's bytes are drawn fresh (the seed printed on failure)
 * and written on the compute stream, overwritten by the next frame's at once: the host must see
 * every frame's own bytes.
 */

import assert from "node:assert/strict";
import {
  DeviceBuffer,
  DisposedError,
  getMemoryManager,
  InvalidArgumentError,
  type MemoryDevice,
  MemoryPool,
  Readback,
  type ReadbackFrame,
  ResizableBuffer,
  SlotsHeldError,
  Stream,
  TransferError,
} from "../../mod.ts";
import { type Seeded, withSeed } from "./meshes.ts";
import { VirtualResource } from "../../src/memory/virtual_resource.ts";
import { suiteTests } from "./register.ts";

/** A frame's bytes: a seeded pattern, different every frame. */
function pattern(rng: Seeded, bytes: number): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(bytes);
  const base = Math.floor(rng.next() * 256);
  for (let i = 0; i < bytes; i++) data[i] = (base + i * 7) & 0xff;
  return data;
}

/** Asserts `fn` throws a `type` whose message matches `pattern`. */
function throwsLike(
  fn: () => unknown,
  type: abstract new (...args: never[]) => Error,
  pattern?: RegExp,
) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `${error} is a ${type.name}`);
    if (pattern !== undefined) assert.match((error as Error).message, pattern);
    return true;
  });
}

function assertFrame(frame: ReadbackFrame | null, index: number, want: Uint8Array): void {
  assert.ok(frame !== null, `frame ${index} handed back`);
  assert.equal(frame.index, index);
  assert.equal(frame.byteLength, want.byteLength, `frame ${index}: its own length`);
  assert.deepEqual(frame.bytes, want, `frame ${index}: its own bytes`);
}

/** Registers every readback contract under `suite` for `device()`, or ignored with `ignore`. */
export function registerReadbackContracts(
  suite: string,
  device: () => MemoryDevice,
  ignore?: string,
): void {
  const test = suiteTests(suite, ignore, () => undefined);

  test("each frame comes back with its own bytes, the previous one each time, the last by flush", () =>
    withSeed(async (rng) => {
      const dev = device();
      using compute = new Stream(dev);
      const bytes = 4096 + Math.floor(rng.next() * 65536);
      using state = DeviceBuffer.allocate(bytes, { device: dev, label: "test.state" });
      const pinned = getMemoryManager().pinnedPool(dev).stats().allocatedBytes.current;
      {
        using ring = new Readback(state, { slots: 2 });
        const sent: Uint8Array[] = [];
        for (let f = 0; f < 8; f++) {
          sent.push(pattern(rng, bytes));
          await state.copyFromHostAsync(sent[f], compute); // the frame's work, on compute
          using previous = await ring.frame(compute);
          if (f === 0) assert.equal(previous, null, "nothing before the first frame");
          else assertFrame(previous, f - 1, sent[f - 1]);
        }
        using last = await ring.flush();
        assertFrame(last, 7, sent[7]);
        assert.equal(await ring.flush(), null, "every frame handed out");
        assert.deepEqual(ring.stats, { frames: 8, bytes: 8 * bytes, failed: 0, slotGrowths: 0 });
      }
      dev.synchronize();
      assert.equal(
        getMemoryManager().pinnedPool(dev).stats().allocatedBytes.current,
        pinned,
        "the slots went back to the pinned pool",
      );
    }));

  test("the source may be overwritten as soon as frame() returns (device snapshot)", () =>
    withSeed(async (rng) => {
      const dev = device();
      using compute = new Stream(dev);
      const bytes = 1 << 20;
      using state = DeviceBuffer.allocate(bytes, { device: dev });
      using ring = new Readback(state);
      const first = pattern(rng, bytes), second = pattern(rng, bytes);
      await state.copyFromHostAsync(first, compute);
      assert.equal(await ring.frame(compute), null);
      // The next frame's work, queued at once on the compute stream: frame 0 must not see it.
      const overwrite = state.copyFromHostAsync(second, compute);
      using zero = await ring.frame(compute);
      await overwrite;
      assertFrame(zero, 0, first);
      using one = await ring.flush();
      assertFrame(one, 1, second);
    }));

  test("a ResizableBuffer growing between frames: slots grow, each frame has its own length; 3 slots keep 2 frames in flight", () =>
    withSeed(async (rng) => {
      const dev = device();
      using compute = new Stream(dev);
      using state = ResizableBuffer.create(0, { device: dev, label: "test.particles" });
      using ring = new Readback(state, { slots: 3 });
      const sent: Uint8Array[] = [];
      for (let f = 0; f < 6; f++) {
        const add = pattern(rng, 1000 + Math.floor(rng.next() * 40_000));
        state.append(add);
        sent.push(state.copyToHost());
        using previous = await ring.frame(compute);
        // 3 slots: two copies in flight, each frame handed out two frames later.
        if (f > 1) assertFrame(previous, f - 2, sent[f - 2]);
        else assert.equal(previous, null, `frame ${f}: nothing handed out yet`);
      }
      using fourth = await ring.flush();
      assertFrame(fourth, 4, sent[4]);
      using last = await ring.flush();
      assertFrame(last, 5, sent[5]);
      assert.equal(await ring.flush(), null, "nothing left after the last");
      assert.ok(ring.stats.slotGrowths > 0, "slots grew with the buffer");
      // An empty source gives an empty frame.
      state.resize(0);
      await ring.frame(compute);
      using empty = await ring.flush();
      assert.equal(empty?.byteLength, 0);
      assert.equal(empty?.typed(Float32Array).length, 0);
    }));

  test("a slot is reused only once the host gives it back; holding all is a typed error", async () => {
    const dev = device();
    using state = DeviceBuffer.allocate(256, { device: dev });
    using ring = new Readback(state, { slots: 2 });
    await ring.frame();
    const held = await ring.frame(); // frame 0, held
    assert.ok(held !== null);
    // Slot of frame 0 held, slot of frame 1 copying: nothing free.
    throwsLike(() => ring.frame(), SlotsHeldError, /all 2 readback slots are held/);
    assert.equal(ring.stats.frames, 2, "nothing was queued");
    held.release();
    assert.throws(() => held.bytes, DisposedError, "a released frame's bytes are refused");
    held.release(); // idempotent
    const one = await ring.frame();
    assert.equal(one?.index, 1);
    one?.release();
  });

  test("bad use is a typed error before anything is queued; a failed copy rejects that frame only", () =>
    withSeed(async (rng) => {
      const dev = device();
      const state = DeviceBuffer.allocate(512, { device: dev });
      throwsLike(() => new Readback({} as DeviceBuffer), InvalidArgumentError, /source/);
      throwsLike(() => new Readback(state, { slots: 1 }), InvalidArgumentError, /slots/);
      throwsLike(() => new Readback(state, { slots: 2.5 }), InvalidArgumentError, /slots/);
      throwsLike(() => new Readback(state, { deviceSnapshot: 1 as never }), InvalidArgumentError);
      throwsLike(() => new Readback(state, null as never), InvalidArgumentError);
      using addressesOnly = new MemoryPool(new VirtualResource());
      throwsLike(() => new Readback(state, { pool: addressesOnly }), InvalidArgumentError, /pool/);
      throwsLike(() => new Readback(state, { stream: {} as Stream }), InvalidArgumentError);
      {
        using ring = new Readback(state, { faults: { failEvery: 3 } });
        throwsLike(() => ring.frame({} as Stream), InvalidArgumentError, /after/);
        const sent: Uint8Array[] = [];
        const outcomes: string[] = [];
        for (let f = 0; f < 7; f++) {
          sent.push(pattern(rng, 512));
          state.copyFromHost(sent[f]);
          try {
            using previous = await ring.frame();
            if (previous !== null) {
              assertFrame(previous, f - 1, sent[f - 1]);
              outcomes.push("ok");
            }
          } catch (error) {
            assert.ok(error instanceof TransferError && error.injected, String(error));
            outcomes.push("failed");
          }
        }
        // Frames 2 and 5 (the 3rd and 6th copies) fail; each is reported when handed back.
        assert.deepEqual(outcomes, ["ok", "ok", "failed", "ok", "ok", "failed"]);
        assert.equal(ring.stats.failed, 2);
        await ring.flush();
      }
      state.free();
      const ring = new Readback(DeviceBuffer.allocate(64, { device: dev }));
      (ring.source as DeviceBuffer).free();
      throwsLike(() => ring.frame(), DisposedError, /freed/);
      ring.close();
      throwsLike(() => ring.frame(), DisposedError, /close/);
      throwsLike(() => new Readback(state), DisposedError);
    }));
}
