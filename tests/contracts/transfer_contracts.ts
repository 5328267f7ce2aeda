/**
 * The transfer contracts (HostBuffer, registerHost, async copies, TransferPipeline), written
 * once: on the cpu device in every suite, against the CUDA driver on a GPU host.
 */

import assert from "node:assert/strict";
import {
  axpy,
  DeviceBuffer,
  DisposedError,
  GpumemError,
  HostBuffer,
  InvalidArgumentError,
  type MemoryDevice,
  MemoryPool,
  registerHost,
  Stream,
  TransferError,
  TransferPipeline,
} from "../../mod.ts";
import { pinnedUpstream } from "../../src/memory/default_resources.ts";
import { expectError } from "./expect_error.ts";
import { assertSameBytes } from "./same_bytes.ts";
import { randomBytes, randomFloats } from "./random.ts";
import { suiteTests } from "./register.ts";

/** What a suite hands each test. */
export interface TransferSetup {
  /** The device transferred to and from. */
  device: MemoryDevice;
  /** Whether copies from pinned memory return before the DMA is done (a real GPU). */
  asyncDma: boolean;
}

const KiB = 1024;

/** `n` random floats in an array of its own pages (registration locks whole pages). */
function pageAlignedFloats(n: number): Float32Array<ArrayBuffer> {
  const memory = new ArrayBuffer(n * 4 + 8192);
  const base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(memory)) % 4096n);
  const floats = new Float32Array(memory, (4096 - base) % 4096, n);
  floats.set(randomFloats(n));
  return floats;
}
const MiB = 1024 * KiB;

/** Registers the contracts as Deno tests named `<suite>: ...`, ignored with `ignore` as the reason. */
export function registerTransferContracts(
  suite: string,
  open: () => TransferSetup,
  ignore?: string,
): void {
  const test = suiteTests(suite, ignore, open);

  /** A fresh pinned pool, so statistics start at zero and nothing leaks into other tests. */
  const freshPinnedPool = (device: MemoryDevice) =>
    new MemoryPool(pinnedUpstream(device), { name: `test-pinned(${device.id})` });

  test("a HostBuffer's views are its memory; free detaches them", ({ device }) => {
    using pool = freshPinnedPool(device);
    const host = HostBuffer.allocate(4 * KiB, { pool, label: "staging" });
    const floats = host.typed(Float32Array);
    const data = randomFloats(1024);
    floats.set(data);
    assert.equal(HostBuffer.of(floats), host);
    assert.equal(HostBuffer.of(new Float32Array(4)), undefined);
    using buffer = DeviceBuffer.allocate(4 * KiB, { device });
    buffer.copyFromHost(host.bytes);
    assert.deepEqual(buffer.typed(Float32Array).copyToHost(), data);
    host.bytes.fill(0);
    buffer.copyToHost(host.typed(Uint8Array, 0, 4 * KiB));
    assert.deepEqual(new Float32Array(host.bytes.slice().buffer), data);
    assert.equal(pool.stats().allocatedBytes.current, 4 * KiB);
    host.free();
    host.free(); // idempotent
    assert.equal(floats.length, 0, "views are detached");
    assert.equal(pool.stats().allocatedBytes.current, 0);
    expectError(() => host.ptr, DisposedError);
    expectError(() => host.bytes, DisposedError);
    expectError(() => host.typed(Float32Array), DisposedError);
    expectError(() => buffer.copyFromHost(floats), InvalidArgumentError);
    expectError(() => buffer.copyToHost(floats), InvalidArgumentError);
  });

  test("HostBuffer rejects bad sizes and views before allocating", ({ device }) => {
    using pool = freshPinnedPool(device);
    for (const bad of [0, -1, 1.5, NaN, "8", 2 ** 60]) {
      expectError(() => HostBuffer.allocate(bad as number, { pool }), InvalidArgumentError);
    }
    using host = HostBuffer.allocate(64, { pool });
    expectError(() => host.typed(Float64Array, 7, 2), InvalidArgumentError);
    expectError(() => host.typed(Float32Array, -1), InvalidArgumentError);
    expectError(() => host.typed(Array as never), InvalidArgumentError);
    assert.equal(host.typed(Float64Array, 6).length, 2);
    assert.equal(pool.stats().allocations.current, 1);
    assert.equal(pool.stats().upstreamCalls, 1);
  });

  test("HostBuffer.fromHost copies; pinned pool counts and reuses its blocks", ({ device }) => {
    using pool = freshPinnedPool(device);
    const data = randomBytes(100_000);
    const first = HostBuffer.fromHost(data, { pool });
    assertSameBytes(first.bytes, data);
    const address = first.ptr;
    first.free();
    using second = HostBuffer.allocate(100_000, { pool });
    assert.equal(second.ptr, address, "a block no transfer used is reused at once");
    const stats = pool.stats();
    assert.equal(stats.upstreamCalls, 1);
    assert.equal(stats.cacheHits, 1);
  });

  test("a pinned block a transfer used is reused only once the transfer is done", async (setup) => {
    const { device } = setup;
    using pool = freshPinnedPool(device);
    using stream = new Stream(device);
    const bytes = 64 * MiB;
    using source = DeviceBuffer.allocate(bytes, { device });
    source.fill(7);
    const host = HostBuffer.allocate(bytes, { pool });
    const address = host.ptr;
    // Several copies queued back to back keep the stream busy well past the next allocation.
    const copies = [];
    for (let i = 0; i < 4; i++) copies.push(source.copyToHostAsync(stream, host.bytes));
    host.free();
    if (setup.asyncDma) assert.equal(stream.query(), false, "the copies are still running");
    const next = HostBuffer.allocate(bytes, { pool });
    const nextAddress = next.ptr;
    if (setup.asyncDma) assert.notEqual(nextAddress, address, "not reused under a running DMA");
    else assert.equal(nextAddress, address);
    next.free();
    await Promise.allSettled(copies); // views detached by free(): results are not read
    await stream.synchronizeAsync();
    using again = HostBuffer.allocate(bytes, { pool });
    const reused = [address, nextAddress].includes(again.ptr);
    assert.ok(reused, "once the transfer is done the block is reused");
  });

  test("async copies resolve once the data is there, pinned and pageable", async ({ device }) => {
    using stream = new Stream(device);
    using pool = freshPinnedPool(device);
    const data = randomFloats(256 * KiB);
    using pinned = HostBuffer.fromHost(data, { pool });
    using buffer = DeviceBuffer.allocate(data.byteLength, { device });
    buffer.fill(0xab);
    await buffer.copyFromHostAsync(pinned.typed(Float32Array), stream);
    using landing = HostBuffer.allocate(data.byteLength, { pool });
    landing.bytes.fill(0xcd);
    const back = await buffer.copyToHostAsync(stream, landing.typed(Float32Array));
    assertSameBytes(back, data);
    const pageable = await buffer.copyToHostAsync(stream, new Float32Array(data.length));
    assertSameBytes(pageable, data);
    const resizable = new ArrayBuffer(16, { maxByteLength: 64 });
    await assert.rejects(
      () => buffer.copyToHostAsync(stream, new Uint8Array(resizable)),
      InvalidArgumentError,
    );
    expectError(
      () =>
        buffer.copyFromHostAsync(
          new Uint8Array(new SharedArrayBuffer(8, { maxByteLength: 16 })),
          stream,
        ),
      InvalidArgumentError,
    );
  });

  test("registerHost: registered arrays copy both ways; dispose unregisters", async ({ device }) => {
    const data = pageAlignedFloats(1 * MiB);
    using buffer = DeviceBuffer.allocate(data.byteLength, { device });
    buffer.fill(0xab);
    {
      using registration = registerHost(data, { device });
      assert.equal(registration.registered, true);
      assert.equal(registration.byteLength, data.byteLength);
      using pipeline = new TransferPipeline({ device, pool: freshPinnedPool(device) });
      await pipeline.upload(buffer, data);
      assert.equal(pipeline.stats().direct, 1, "registered memory skips staging");
      const back = pageAlignedFloats(data.length).fill(0);
      using backRegistration = registerHost(back, { device });
      await pipeline.download(buffer, back);
      assertSameBytes(back, data);
      assert.equal(pipeline.stats().direct, 2);
      assert.equal(pipeline.stats().stagedChunks, 0);
      backRegistration.unregister();
      backRegistration.unregister(); // idempotent
      assert.equal(backRegistration.registered, false);
    }
    // Unregistered at the end of the block: the same memory registers again.
    using again = registerHost(data, { device });
    assert.equal(again.registered, true);
  });

  test("registerHost rejects bad arrays before any driver call", ({ device }) => {
    const big = new Uint8Array(64 * KiB);
    using registration = registerHost(big, { device });
    expectError(
      () => registerHost(big.subarray(8 * KiB, 16 * KiB), { device }),
      InvalidArgumentError,
    );
    expectError(() => registerHost(new Uint8Array(0), { device }), InvalidArgumentError);
    const detached = new Uint8Array(16 * KiB);
    detached.buffer.transfer();
    expectError(() => registerHost(detached, { device }), InvalidArgumentError);
    expectError(
      () => registerHost(new Uint8Array(new ArrayBuffer(8, { maxByteLength: 16 })), { device }),
      InvalidArgumentError,
    );
    expectError(() => registerHost([1, 2, 3] as never, { device }), InvalidArgumentError);
    using pool = freshPinnedPool(device);
    using host = HostBuffer.allocate(8 * KiB, { pool });
    expectError(() => registerHost(host.bytes, { device }), InvalidArgumentError);
    assert.equal(registration.registered, true, "the live registration is untouched");
  });

  test("pipeline: staged uploads and downloads of any size and offset land exactly", async ({ device }) => {
    const pool = freshPinnedPool(device);
    using pipeline = new TransferPipeline({
      device,
      pool,
      chunkBytes: 64 * KiB,
      directBelow: 0,
      offThreadFrom: 1 * MiB, // both ways of running the stager
    });
    // [bytes, device offset, host offset]: host arrays that start off a 16-byte boundary take
    // the host copy's unaligned head and tail as well as its streaming body.
    const cases = [
      [0, 0, 0],
      [1, 5, 3],
      [1000, 24, 0],
      [3 * MiB + 123, 4096, 7],
      [200 * KiB, 0, 0],
    ];
    for (const [size, offset, hostOffset] of cases) {
      const data = new Uint8Array(size + hostOffset).subarray(hostOffset);
      data.set(randomBytes(size));
      using buffer = DeviceBuffer.allocate(size + offset + 100, { device });
      buffer.fill(0xab);
      await pipeline.upload(buffer, data, offset);
      const all = buffer.copyToHost();
      assertSameBytes(all.subarray(offset, offset + size), data);
      assert.ok(all.subarray(0, offset).every((b) => b === 0xab), "bytes before untouched");
      assert.ok(all.subarray(offset + size).every((b) => b === 0xab), "bytes after untouched");
      const backing = new Uint8Array(size + 2 * hostOffset).fill(0xcd);
      const back = backing.subarray(hostOffset, hostOffset + size);
      assert.equal(await pipeline.download(buffer, back, offset), back);
      assertSameBytes(back, data);
      assert.ok(backing.subarray(0, hostOffset).every((b) => b === 0xcd), "host bytes before");
      assert.ok(backing.subarray(hostOffset + size).every((b) => b === 0xcd), "host bytes after");
    }
    const stats = pipeline.stats();
    assert.equal(stats.failed, 0);
    assert.ok(
      stats.stagedChunks > 2 * 48,
      `many pieces were staged (${stats.stagedChunks})`,
    );
    assert.equal(pool.stats().allocatedBytes.current, 0, "staging buffers went back");
    pipeline.close();
    pool.close();
  });

  test("pipeline: small pageable transfers go to the driver, large ones are staged", async ({ device }) => {
    using pool = freshPinnedPool(device);
    using pipeline = new TransferPipeline({
      device,
      pool,
      directBelow: 1 * MiB,
      chunkBytes: 256 * KiB,
    });
    using buffer = DeviceBuffer.allocate(2 * MiB, { device });
    const small = randomBytes(1 * MiB - 1);
    await pipeline.upload(buffer, small);
    assertSameBytes(await pipeline.download(buffer, new Uint8Array(small.byteLength)), small);
    assert.equal(pipeline.stats().direct, 2);
    assert.equal(pipeline.stats().stagedChunks, 0);
    const large = randomBytes(2 * MiB);
    await pipeline.upload(buffer, large);
    assertSameBytes(await pipeline.download(buffer, new Uint8Array(large.byteLength)), large);
    assert.equal(pipeline.stats().direct, 2);
    assert.equal(pipeline.stats().stagedChunks, 16);
  });

  test("pipeline: back-to-back transfers of changing piece counts stay exact", async ({ device }) => {
    // From one piece (the calling thread alone) to more pieces than threads and than staging
    // slots, in a shuffled order: each transfer asks a different number of the stager's threads
    // to help. With 64 KiB pieces each piece is one thread's slice; with 256 KiB pieces four
    // threads copy slices of each piece, and pieces of 256 KiB up wrap around the slots.
    using buffer = DeviceBuffer.allocate(3 * MiB, { device });
    const sizes = [1, 64 * KiB, 64 * KiB + 1, 200 * KiB, 1 * MiB, 300 * KiB, 4096, 900 * KiB];
    for (const chunkBytes of [64 * KiB, 256 * KiB]) {
      using pipeline = new TransferPipeline({ device, chunkBytes, hostThreads: 4, directBelow: 0 });
      for (let round = 0; round < 6; round++) {
        for (const size of [...sizes, 3 * MiB - 5].toSorted(() => Math.random() - 0.5)) {
          const data = randomBytes(size);
          await pipeline.upload(buffer, data);
          const back = new Uint8Array(size).fill(0xee);
          await pipeline.download(buffer, back);
          assertSameBytes(back, data, `${size} bytes, ${chunkBytes} B pieces, round ${round}`);
        }
      }
    }
  });

  test("pipeline: typed arrays, many calls at once, each in order", async ({ device }) => {
    using pipeline = new TransferPipeline({ device, chunkBytes: 256 * KiB, directBelow: 0 });
    const a = randomFloats(300_000);
    const b = randomFloats(200_000);
    using bufferA = DeviceBuffer.allocate(a.byteLength, { device });
    using bufferB = DeviceBuffer.allocate(b.byteLength, { device });
    const [, , backA, backB] = await Promise.all([
      pipeline.upload(bufferA, a),
      pipeline.upload(bufferB, b),
      pipeline.download(bufferA, new Float32Array(a.length)),
      pipeline.download(bufferB, new Float32Array(b.length)),
    ]);
    assertSameBytes(backA, a);
    assertSameBytes(backB, b);
  });

  test("pipeline: a failed chunk rejects the transfer and returns its staging", async ({ device }) => {
    using pool = freshPinnedPool(device);
    // The schedule is asked once per piece, in order, before a transfer starts.
    using pipeline = new TransferPipeline({
      device,
      pool,
      chunkBytes: 64 * KiB,
      hostThreads: 1,
      directBelow: 0,
      faults: { failEvery: 5 },
    });
    using buffer = DeviceBuffer.allocate(1 * MiB, { device });
    const data = randomBytes(1 * MiB);
    await assert.rejects(() => pipeline.upload(buffer, data), TransferError);
    assert.equal(pool.stats().allocatedBytes.current, 0, "staging given back after the failure");
    // 16 pieces took attempts 1 to 16; 17 to 19 pass: the pipeline works on.
    const small = randomBytes(192 * KiB);
    await pipeline.upload(buffer, small);
    assertSameBytes(buffer.view(0, small.byteLength).copyToHost(), small);
    await assert.rejects(
      () => pipeline.download(buffer, new Uint8Array(1 * MiB)),
      TransferError,
    );
    assert.equal(pool.stats().allocatedBytes.current, 0);
    const stats = pipeline.stats();
    assert.equal(stats.failed, 2);
    assert.equal(stats.transfers, 1);
    // Many workers: the ones running when a piece fails finish, then the transfer rejects.
    using wide = new TransferPipeline({
      device,
      pool,
      chunkBytes: 64 * KiB,
      hostThreads: 4,
      directBelow: 0,
      faults: { failRate: 0.2, seed: 7 },
    });
    await assert.rejects(() => wide.upload(buffer, data), TransferError);
    await assert.rejects(() => wide.download(buffer, new Uint8Array(1 * MiB)), TransferError);
    assert.equal(pool.stats().allocatedBytes.current, 0);
  });

  test("buffers a closed pipeline used free cleanly and are reused", async ({ device }) => {
    const buffer = DeviceBuffer.allocate(2 * MiB, { device });
    const address = buffer.ptr;
    const data = randomBytes(2 * MiB);
    {
      using pipeline = new TransferPipeline({ device });
      await pipeline.upload(buffer, data);
    }
    assertSameBytes(buffer.copyToHost(), data);
    buffer.free();
    using again = DeviceBuffer.allocate(2 * MiB, { device });
    assert.equal(again.ptr, address, "its stream's work was done: the block is reused");
  });

  test("pipeline: bad input rejects with a typed error and stages nothing", async ({ device }) => {
    using pool = freshPinnedPool(device);
    const pipeline = new TransferPipeline({ device, pool });
    using buffer = DeviceBuffer.allocate(1024, { device });
    await assert.rejects(() => pipeline.upload(buffer, new Uint8Array(1025)), InvalidArgumentError);
    await assert.rejects(
      () => pipeline.upload(buffer, new Uint8Array(8), 1020),
      InvalidArgumentError,
    );
    await assert.rejects(
      () => pipeline.upload(buffer, new Uint8Array(8), -1),
      InvalidArgumentError,
    );
    await assert.rejects(() => pipeline.upload(buffer, [1, 2] as never), InvalidArgumentError);
    await assert.rejects(
      () => pipeline.upload({} as never, new Uint8Array(8)),
      InvalidArgumentError,
    );
    const detached = new Uint8Array(8);
    detached.buffer.transfer();
    await assert.rejects(() => pipeline.upload(buffer, detached), InvalidArgumentError);
    await assert.rejects(() => pipeline.download(buffer, detached), InvalidArgumentError);
    const freed = DeviceBuffer.allocate(64, { device });
    freed.free();
    await assert.rejects(() => pipeline.upload(freed, new Uint8Array(8)), DisposedError);
    // Freed after the call, before its turn: rejected when it runs, staging untouched.
    const late = DeviceBuffer.allocate(1 * MiB, { device });
    const pending = pipeline.upload(late, randomBytes(1 * MiB));
    late.free();
    await assert.rejects(() => pending, DisposedError);
    assert.equal(pool.stats().allocatedBytes.current, 0);
    for (
      const options of [
        { hostThreads: 0 },
        { hostThreads: 257 },
        { hostThreads: 1.5 },
        { chunkBytes: 0 },
        { chunkBytes: -5 },
        { directBelow: -1 },
        { offThreadFrom: 0.5 },
      ]
    ) {
      expectError(() => new TransferPipeline({ device, pool, ...options }), InvalidArgumentError);
    }
    pipeline.close();
    await assert.rejects(() => pipeline.upload(buffer, new Uint8Array(8)), GpumemError);
  });

  test("pipeline.uploadEach overlaps uploads with compute and processes every chunk", async ({ device }) => {
    using pipeline = new TransferPipeline({ device, directBelow: 0 });
    using compute = new Stream(device);
    const chunkElements = 64 * KiB;
    const x = randomFloats(3 * chunkElements + 17);
    using result = DeviceBuffer.allocate(x.byteLength, { device });
    result.fill(0);
    const seen: [number, number][] = [];
    await pipeline.uploadEach(x, {
      chunkBytes: chunkElements * 4,
      compute,
      process: (chunk, index, byteOffset) => {
        seen.push([index, byteOffset]);
        const y = result.view(byteOffset, chunk.byteLength).typed(Float32Array);
        axpy(2, chunk.typed(Float32Array), y, compute);
      },
    });
    assert.deepEqual(seen, [0, 1, 2, 3].map((i) => [i, i * chunkElements * 4]));
    const got = result.typed(Float32Array).copyToHost();
    for (let i = 0; i < x.length; i++) {
      if (got[i] !== 2 * x[i]) assert.fail(`element ${i}: ${got[i]} instead of ${2 * x[i]}`);
    }
    await assert.rejects(
      () => pipeline.uploadEach(x, { compute: pipeline.stream, process: () => {} }),
      InvalidArgumentError,
    );
    await assert.rejects(
      () => pipeline.uploadEach(x, { compute, process: "no" as never }),
      InvalidArgumentError,
    );
  });
}
