/**
 * The DeviceBuffer contracts, written once and registered for every device and resource: the cpu
 * suite runs them on host memory, tests/gpu on cuMemAlloc and cuMemAllocAsync.
 */

import assert from "node:assert/strict";
import { contractTest } from "./register.ts";
import {
  DeviceBuffer,
  DisposedError,
  InvalidArgumentError,
  type MemoryPool,
  type MemoryResource,
  Stream,
} from "../../mod.ts";
import type { LiveAllocations } from "../../src/memory/live_allocations.ts";
import { randomBytes, randomFloats } from "./random.ts";

/** A resource under test, with a count of what it has live, to prove nothing leaked. */
export interface ResourceUnderTest {
  resource: MemoryResource;
  /** Allocations and bytes (as requested) live in the resource now. */
  live: () => { count: number; bytes: number };
  /** Whether allocations need a stream (stream-ordered resources get one). */
  streamOrdered: boolean;
}

/** The live count of an upstream's address table, as the contracts read it. */
export function liveOf(live: LiveAllocations): { count: number; bytes: number } {
  return { count: live.count, bytes: live.bytes };
}

/** The live count of a pool (allocations and requested bytes), as the contracts read it. */
export function liveOfPool(pool: MemoryPool): { count: number; bytes: number } {
  const stats = pool.stats();
  return { count: stats.allocations.current, bytes: stats.requestedBytes.current };
}

/**
 * Registers the contracts as Deno tests named `<suite>: ...`. `open` is called inside each test;
 * `ignore` (a reason) registers them as ignored instead, the reason in the name.
 */
export function registerBufferContracts(
  suite: string,
  open: () => ResourceUnderTest,
  ignore?: string,
): void {
  type Subject = ResourceUnderTest & {
    /** A stream on the device, for async copies (and allocations, when stream-ordered). */
    stream: Stream;
    /** The stream allocations are ordered on: `stream` for stream-ordered resources. */
    allocationStream: Stream | undefined;
  };
  const test = (name: string, body: (subject: Subject) => void | Promise<void>) =>
    contractTest(suite, ignore, name, async () => {
      const subject = open();
      const before = subject.live();
      using stream = new Stream(subject.resource.device);
      await body({
        ...subject,
        stream,
        allocationStream: subject.streamOrdered ? stream : undefined,
      });
      stream.synchronize();
      assert.deepEqual(subject.live(), before, "the test left allocations live");
    });
  const allocate = (s: Subject, bytes: number, label?: string) =>
    DeviceBuffer.allocate(bytes, { resource: s.resource, stream: s.allocationStream, label });

  test("bytes survive a host round trip at random sizes and offsets", (s) => {
    for (const size of [1, 255, 256, 4097, 1 << 20, 3 * (1 << 20) + 17]) {
      using buffer = allocate(s, size + 64);
      const data = randomBytes(size);
      const offset = Math.floor(Math.random() * 64);
      buffer.fill(0xa5); // poison: every byte the copy should not touch stays 0xa5
      buffer.copyFromHost(data, offset);
      const back = buffer.copyToHost();
      assert.deepEqual(back.subarray(offset, offset + size), data);
      assert.ok(back.subarray(0, offset).every((b) => b === 0xa5));
      assert.ok(back.subarray(offset + size).every((b) => b === 0xa5));
    }
  });

  test("typed views copy elements of their kind", (s) => {
    const values = randomFloats(1000);
    using buffer = allocate(s, values.byteLength + 8, "typed");
    const floats = buffer.typed(Float32Array, 2);
    assert.equal(floats.length, 1000);
    floats.copyFromHost(values);
    assert.deepEqual(floats.copyToHost(), values);
    const tail = new Float32Array(10);
    floats.copyToHost(tail, 990);
    assert.deepEqual(tail, values.subarray(990));
    assert.throws(
      () => floats.copyFromHost(new Float64Array(4) as unknown as Float32Array<ArrayBuffer>),
      InvalidArgumentError,
    );
    assert.throws(
      () => buffer.view(1).typed(Float32Array),
      InvalidArgumentError,
      "misaligned start",
    );
    assert.throws(() => floats.copyFromHost(values, 1), InvalidArgumentError, "past the end");
  });

  test("device-to-device copies and fills, whole and partial", (s) => {
    const data = randomBytes(100_000);
    using a = DeviceBuffer.fromHost(data, { resource: s.resource, stream: s.allocationStream });
    using b = allocate(s, 200_000);
    b.fill(0);
    b.copyFrom(a, 50_000);
    const back = b.copyToHost();
    assert.deepEqual(back.subarray(50_000, 150_000), data);
    assert.ok(back.subarray(0, 50_000).every((x) => x === 0));
    b.fill(7, 10, 20);
    const filled = b.copyToHost(new Uint8Array(40));
    assert.deepEqual([...filled.subarray(8, 32)], [0, 0, ...Array(20).fill(7), 0, 0]);
    b.view(0, 1000).copyFrom(b.view(1000, 1000));
    assert.throws(
      () => b.view(0, 1000).copyFrom(b.view(500, 1000)),
      InvalidArgumentError,
      "overlap",
    );
  });

  test("stream-ordered async copies resolve with the data", async (s) => {
    const stream = s.stream;
    const data = randomFloats(1 << 16);
    using buffer = allocate(s, data.byteLength);
    const floats = buffer.typed(Float32Array);
    await floats.copyFromHostAsync(data, stream);
    assert.deepEqual(await floats.copyToHostAsync(stream), data);
    using copy = allocate(s, data.byteLength);
    await copy.copyFromAsync(buffer, stream);
    await copy.fillAsync(0, stream, 0, 4);
    const back = await copy.copyToHostAsync(stream, new Float32Array(data.length));
    assert.equal(back[0], 0);
    assert.deepEqual(back.subarray(1), data.subarray(1));
  });

  test("views die with their owner and never free memory", (s) => {
    const owner = allocate(s, 4096, "owner");
    const view = owner.view(1024, 1024);
    const nested = view.view(512);
    assert.equal(nested.byteLength, 512);
    assert.equal(nested.ptr, owner.ptr + 1536n);
    assert.equal(nested.owner, owner);
    view.free(); // closes the view only
    assert.throws(() => view.ptr, DisposedError);
    assert.doesNotThrow(() => owner.copyToHost());
    assert.doesNotThrow(() => nested.copyToHost());
    owner.free();
    owner.free(); // idempotent
    for (const dead of [owner, nested]) {
      assert.ok(dead.disposed);
      assert.throws(() => dead.ptr, DisposedError);
      assert.throws(() => dead.copyToHost(), DisposedError);
      assert.throws(() => dead.copyFromHost(new Uint8Array(1)), DisposedError);
      assert.throws(() => dead.fill(1), DisposedError);
      assert.throws(() => dead.view(0, 1), DisposedError);
    }
  });

  test("using and DisposableStack free at scope end", (s) => {
    const live = s.live().count;
    {
      using _a = allocate(s, 1000);
      using _b = allocate(s, 2000);
      assert.equal(s.live().count, live + 2);
    }
    assert.equal(s.live().count, live);
    const stack = new DisposableStack();
    const kept = stack.use(allocate(s, 64));
    stack.use(allocate(s, 64));
    assert.equal(s.live().count, live + 2);
    stack.dispose();
    assert.ok(kept.disposed);
    assert.equal(s.live().count, live);
  });

  test("zero-byte buffers are valid and free nothing", (s) => {
    using empty = allocate(s, 0);
    assert.equal(empty.byteLength, 0);
    empty.copyFromHost(new Uint8Array(0));
    assert.equal(empty.copyToHost().byteLength, 0);
    empty.fill(3);
  });

  test("bad arguments are typed errors and leave nothing allocated", (s) => {
    const live = s.live();
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53, "8", 8n, null]) {
      assert.throws(() => allocate(s, bad as number), InvalidArgumentError, String(bad));
    }
    assert.throws(
      () => DeviceBuffer.allocate(8, { resource: s.resource, label: 42 as unknown as string }),
      InvalidArgumentError,
    );
    using buffer = allocate(s, 64);
    assert.throws(() => buffer.view(60, 8), InvalidArgumentError);
    assert.throws(() => buffer.view(-1), InvalidArgumentError);
    assert.throws(() => buffer.copyFromHost(new Uint8Array(65)), InvalidArgumentError);
    assert.throws(() => buffer.copyFromHost(new Uint8Array(8), 57), InvalidArgumentError);
    assert.throws(
      () => buffer.copyFromHost([1, 2, 3] as unknown as Uint8Array),
      InvalidArgumentError,
    );
    assert.throws(
      () => buffer.copyFromHost(new DataView(new ArrayBuffer(4)) as unknown as Uint8Array),
      InvalidArgumentError,
    );
    const detached = new Uint8Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    assert.throws(() => buffer.copyFromHost(detached), InvalidArgumentError, "detached");
    assert.throws(() => buffer.copyToHost(new Uint8Array(65)), InvalidArgumentError);
    assert.throws(() => buffer.fill(256), InvalidArgumentError);
    assert.throws(() => buffer.fill(-1), InvalidArgumentError);
    assert.throws(() => buffer.fill(1, 0, 65), InvalidArgumentError);
    assert.throws(() => buffer.copyFrom({} as DeviceBuffer), InvalidArgumentError);
    assert.throws(
      () => buffer.typed(Array as unknown as Float32ArrayConstructor),
      InvalidArgumentError,
    );
    assert.throws(
      () => buffer.copyFromHostAsync(new Uint8Array(1), {} as Stream),
      InvalidArgumentError,
    );
    buffer.free();
    assert.deepEqual(s.live(), live);
  });

  test("the resource refuses foreign, double and mis-sized frees before the driver", (s) => {
    const bytes = 4096;
    const address = s.resource.allocate(bytes, s.allocationStream);
    assert.throws(
      () => s.resource.deallocate(address + 256n, bytes, s.allocationStream),
      InvalidArgumentError,
    );
    assert.throws(
      () => s.resource.deallocate(address, bytes - 1, s.allocationStream),
      InvalidArgumentError,
    );
    assert.throws(
      () => s.resource.deallocate(0xdead0000n, 16, s.allocationStream),
      InvalidArgumentError,
    );
    s.resource.deallocate(address, bytes, s.allocationStream);
    assert.throws(
      () => s.resource.deallocate(address, bytes, s.allocationStream),
      InvalidArgumentError,
      "double free",
    );
    assert.throws(() => s.resource.allocate(-5), InvalidArgumentError);
  });

  test("addresses are 256-byte aligned and allocations do not overlap", (s) => {
    const buffers = Array.from(
      { length: 64 },
      () => allocate(s, 1 + Math.floor(Math.random() * 5000)),
    );
    try {
      const ranges = buffers.map((b) => [b.ptr, b.ptr + BigInt(b.byteLength)] as const)
        .sort((x, y) => (x[0] < y[0] ? -1 : 1));
      for (const [start] of ranges) assert.equal(start % 256n, 0n);
      for (let i = 1; i < ranges.length; i++) {
        assert.ok(ranges[i][0] >= ranges[i - 1][1], "overlap");
      }
      // Each buffer keeps its own content.
      buffers.forEach((b, i) => b.fill(i));
      buffers.forEach((b, i) => assert.ok(b.copyToHost().every((x) => x === i)));
    } finally {
      buffers.forEach((b) => b.free());
    }
  });
}
