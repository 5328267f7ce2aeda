/** MemoryPool policy, statistics, limits, streams and failure paths, on host memory. */

import assert from "node:assert/strict";
import {
  cpuDevice,
  DeviceBuffer,
  FaultInjectingResource,
  GpumemError,
  HostResource,
  HostVirtualMemoryResource,
  InvalidArgumentError,
  MemoryPool,
  OutOfMemoryError,
  Stream,
} from "../mod.ts";
import { isBlockResource } from "../src/memory/resource.ts";
import { FaultInjectingAddressSpace } from "../src/memory/address_space/fault_injecting_address_space.ts";
import { liveOfPool, registerBufferContracts } from "./contracts/buffer_contracts.ts";
import { expectError } from "./contracts/expect_error.ts";
import { FreeIndex } from "../src/memory/pool/free_index.ts";
import { StreamEpochs } from "../src/memory/pool/stream_epochs.ts";
import { withSeed } from "./contracts/meshes.ts";

const MiB = 1 << 20;
const contractPool = new MemoryPool(new HostResource());
registerBufferContracts("cpu pool", () => ({
  resource: contractPool,
  live: () => liveOfPool(contractPool),
  streamOrdered: false,
}));

function newPool(limit?: string | number) {
  const host = new HostResource();
  return { host, pool: new MemoryPool(host, limit === undefined ? {} : { limit }) };
}

Deno.test("pool: a cached round trip makes no upstream call", () => {
  const { host, pool } = newPool();
  DeviceBuffer.allocate(1000, { resource: pool }).free();
  const calls = pool.stats().upstreamCalls;
  for (let i = 0; i < 1000; i++) DeviceBuffer.allocate(1000, { resource: pool }).free();
  const stats = pool.stats();
  assert.equal(stats.upstreamCalls, calls);
  assert.equal(stats.cacheHits, 1000);
  assert.equal(stats.cacheMisses, 1);
  assert.equal(host.live.count, 1, "one segment");
  assert.equal(stats.allocations.total, 1001);
  assert.equal(stats.allocations.peak, 1);
});

Deno.test("pool: sizes round to 512 B and small requests share 2 MiB segments", () => {
  const { pool } = newPool();
  const buffers = [1, 512, 513, 4000, 256 * 1024].map((bytes) =>
    DeviceBuffer.allocate(bytes, { resource: pool })
  );
  const stats = pool.stats();
  assert.equal(stats.allocatedBytes.current, 512 + 512 + 1024 + 4096 + 256 * 1024);
  assert.equal(stats.requestedBytes.current, 1 + 512 + 513 + 4000 + 256 * 1024);
  assert.equal(stats.segments.current, 1);
  assert.equal(stats.reservedBytes.current, 2 * MiB);
  for (let i = 1; i < buffers.length; i++) {
    assert.ok(
      buffers[i].ptr >= buffers[i - 1].ptr + BigInt(buffers[i - 1].byteLength),
      "packed in order",
    );
  }
  buffers.forEach((b) => b.free());
  assert.equal(pool.stats().freeCachedBytes, 2 * MiB, "everything merged back into one block");
  assert.equal(pool.stats().largestFreeBlock, 2 * MiB);
  assert.equal(pool.stats().fragmentation, 0);
});

Deno.test("pool: freed neighbours merge, and best fit picks the smallest block that fits", () => {
  const { pool } = newPool();
  const [a, b, c, guard] = [64, 64, 64, 64].map((kib) =>
    DeviceBuffer.allocate(kib * 1024, { resource: pool })
  );
  const aAddress = a.ptr;
  b.free();
  a.free(); // merges with b
  const ab = DeviceBuffer.allocate(128 * 1024, { resource: pool });
  assert.equal(ab.ptr, aAddress, "the merged block serves a request of both sizes");
  c.free();
  // Free blocks now: c (64 KiB, before guard) and the segment's tail (> 1.7 MiB).
  const fit = DeviceBuffer.allocate(60 * 1024, { resource: pool });
  assert.equal(fit.ptr, aAddress + 128n * 1024n, "best fit takes c's 64 KiB, not the tail");
  assert.ok(pool.stats().fragmentation > 0);
  [ab, fit, guard].forEach((x) => x.free());
});

Deno.test("pool: large requests get their own size class and segments", () => {
  const { pool } = newPool();
  const medium = DeviceBuffer.allocate(3 * MiB, { resource: pool });
  assert.equal(
    pool.stats().reservedBytes.current,
    20 * MiB,
    "1-10 MiB requests share 20 MiB segments",
  );
  const second = DeviceBuffer.allocate(5 * MiB, { resource: pool });
  assert.equal(pool.stats().segments.current, 1);
  const large = DeviceBuffer.allocate(33 * MiB + 1, { resource: pool });
  assert.equal(pool.stats().reservedBytes.current, 20 * MiB + 34 * MiB, "large: rounded to 2 MiB");
  const small = DeviceBuffer.allocate(4096, { resource: pool });
  assert.equal(
    pool.stats().segments.current,
    3,
    "a small request never takes from a large segment",
  );
  [medium, second, large, small].forEach((b) => b.free());
});

Deno.test("pool: trim and freeCache give unused segments back; pressure follows allocation", () => {
  const { host, pool } = newPool("64MiB");
  const buffers = [30, 20, 10].map((mib) => DeviceBuffer.allocate(mib * MiB, { resource: pool }));
  assert.equal(pool.pressure(), (30 + 20 + 10) / 64);
  buffers.forEach((b) => b.free());
  assert.equal(pool.pressure(), 0);
  pool.trim(25 * MiB); // gives back the largest first: 30 MiB, then 20 MiB
  assert.equal(pool.stats().reservedBytes.current, 10 * MiB);
  pool.freeCache();
  assert.equal(pool.stats().reservedBytes.current, 0);
  assert.equal(host.live.count, 0);
  assert.throws(() => pool.trim(-1), InvalidArgumentError);
});

Deno.test("pool: the limit is enforced; the cache is freed and retried before OutOfMemoryError", () => {
  const { pool } = newPool("40MiB");
  const held = DeviceBuffer.allocate(20 * MiB, { resource: pool, label: "model.weights" });
  const cached = DeviceBuffer.allocate(14 * MiB, { resource: pool });
  cached.free(); // 14 MiB block cached in a 14 MiB segment
  const fits = DeviceBuffer.allocate(18 * MiB, { resource: pool }); // needs the cache freed first
  assert.equal(pool.stats().reservedBytes.current, 38 * MiB);
  const oom = expectError(
    () => DeviceBuffer.allocate(8 * MiB, { resource: pool, label: "activations" }),
    OutOfMemoryError,
  );
  assert.equal(oom.requestedBytes, 8 * MiB);
  assert.match(oom.message, /limit of 40\.00 MiB would be exceeded/);
  assert.match(
    oom.message,
    /38\.00 MiB allocated, 38\.00 MiB reserved in 2 segments, limit 40\.00 MiB/,
  );
  assert.match(oom.message, /largest free block 0 B of 0 B cached/);
  assert.match(oom.message, /biggest live allocations: model\.weights 1 × ≈20\.00 MiB/);
  assert.equal(pool.stats().allocations.current, 2, "the failure changed nothing");
  held.free();
  fits.free();
});

Deno.test("pool: an upstream failure frees the cache, retries once, then reports", () => {
  const host = new HostResource();
  const faults = new FaultInjectingResource(host, { failEvery: 2 });
  const pool = new MemoryPool(faults);
  const first = DeviceBuffer.allocate(4 * MiB, { resource: pool }); // upstream call 1
  first.free();
  // Call 2 fails; the pool frees its cache and retries (call 3) before giving up.
  const second = DeviceBuffer.allocate(30 * MiB, { resource: pool });
  assert.equal(faults.injected, 1);
  assert.equal(pool.stats().segments.current, 1);
  second.free();
  pool.freeCache();
  const always = new MemoryPool(new FaultInjectingResource(host, { failEvery: 1 }));
  const oom = expectError(() => DeviceBuffer.allocate(MiB, { resource: always }), OutOfMemoryError);
  assert.ok(oom.cause instanceof OutOfMemoryError);
  assert.match(oom.message, /refused by faults\(host\)/);
  assert.equal(host.live.count, 0);
});

Deno.test("pool: faults over a pool keep its block path: failures injected, recordStream reaches it", () => {
  const pool = new MemoryPool(new HostResource());
  const faults = new FaultInjectingResource(pool, { failEvery: 3 });
  assert.ok(isBlockResource(faults), "a pool's wrapper has the block path");
  assert.ok(!isBlockResource(new FaultInjectingResource(new HostResource(), { failEvery: 3 })));
  const recorded: Stream[] = [];
  const original = pool.recordStream.bind(pool);
  pool.recordStream = (block, stream) => {
    recorded.push(stream);
    original(block, stream);
  };
  using other = new Stream(cpuDevice);
  const a = DeviceBuffer.allocate(MiB, { resource: faults, label: "faults.a" });
  const b = DeviceBuffer.allocate(MiB, { resource: faults });
  expectError(() => DeviceBuffer.allocate(MiB, { resource: faults }), OutOfMemoryError);
  assert.equal(faults.injected, 1);
  assert.equal(pool.stats().allocations.current, 2, "the failure took nothing from the pool");
  a.recordStream(other);
  assert.deepEqual(recorded, [other], "recordStream went to the pool, not nowhere");
  a.free();
  b.free();
  assert.equal(pool.stats().allocatedBytes.current, 0);
  pool.close();
});

Deno.test("pool: bad input is a typed error and changes nothing", () => {
  const { pool } = newPool();
  const other = newPool().pool;
  const block = pool.allocateBlock(1000);
  assert.throws(() => other.deallocateBlock(block), InvalidArgumentError, "foreign block");
  pool.deallocateBlock(block);
  assert.throws(() => pool.deallocateBlock(block), InvalidArgumentError, "double free");
  for (const bad of [0, -1, 0.5, NaN, Infinity]) {
    assert.throws(() => pool.allocateBlock(bad), InvalidArgumentError, String(bad));
  }
  assert.throws(() => new MemoryPool(new HostResource(), { limit: "lots" }), InvalidArgumentError);
  assert.throws(() => new MemoryPool(new HostResource(), { limit: -5 }), InvalidArgumentError);
  assert.deepEqual(pool.stats().allocations.current, 0);
});

Deno.test("pool: closing with live blocks is refused and names them; memory stays valid", () => {
  const { host, pool } = newPool();
  const buffer = DeviceBuffer.allocate(4096, { resource: pool, label: "mesh.vertices" });
  buffer.fill(3);
  const error = expectError(() => pool.close(), GpumemError);
  assert.match(error.message, /1 blocks are live/);
  assert.match(error.message, /mesh\.vertices/);
  assert.ok(buffer.copyToHost().every((b) => b === 3), "memory under a live buffer was not freed");
  buffer.free();
  pool.close();
  pool.close();
  assert.equal(host.live.count, 0);
  assert.throws(() => pool.allocateBlock(16), GpumemError);
});

/** A cpu stream that says it still has work queued, as a busy CUDA stream would. */
class BusyStream extends Stream {
  override query(): boolean {
    return false;
  }
}

Deno.test("pool: a block is reused at once on its own stream; a busy stream's blocks are not lent", () => {
  const { pool } = newPool();
  using s1 = new BusyStream(cpuDevice);
  using s2 = new Stream(cpuDevice);
  const a = pool.allocateBlock(4096, s1);
  const address = a.address;
  pool.deallocateBlock(a, s1);
  const again = pool.allocateBlock(4096, s1);
  assert.equal(again.address, address, "same stream: reused at once");
  const other = pool.allocateBlock(4096, s2);
  assert.notEqual(other.segment, again.segment, "s1 is busy: s2 grows its own segment");
  assert.equal(pool.stats().borrowedAcrossStreams, 0);
  pool.deallocateBlock(again, s1);
  pool.deallocateBlock(other, s2);
});

Deno.test("pool: a miss borrows an idle stream's free block, which comes back after use", () => {
  const { host, pool } = newPool();
  using s1 = new Stream(cpuDevice); // the cpu device's streams are idle between calls
  using s2 = new BusyStream(cpuDevice); // the borrower: still working when the block is freed
  const kept = pool.allocateBlock(4096, s1);
  const calls = pool.stats().upstreamCalls;
  const lent = pool.allocateBlock(8192, s2);
  assert.equal(lent.segment, kept.segment, "served from s1's segment");
  assert.equal(pool.stats().upstreamCalls, calls, "no new memory");
  assert.equal(pool.stats().borrowedAcrossStreams, 1);
  // Freed with no stream named, reuse still waits for s2 (the stream it was lent to).
  pool.deallocateBlock(lent);
  assert.equal(pool.stats().freeCachedBytes, 2 * 1024 * 1024 - 4096 - 8192, "held back");
  pool.trim(Number.MAX_SAFE_INTEGER); // cpu events are complete: collected, merged back
  assert.equal(pool.stats().freeCachedBytes, 2 * 1024 * 1024 - 4096);
  pool.deallocateBlock(kept, s1);
  pool.close();
  assert.equal(host.live.count, 0);
});

Deno.test("pool: when growing is refused, a miss borrows from a busy stream rather than fail", () => {
  const { pool } = newPool("2MiB");
  using s1 = new BusyStream(cpuDevice);
  using s2 = new Stream(cpuDevice);
  const kept = pool.allocateBlock(4096, s1); // s1's segment stays in use: freeCache can't take it
  const lent = pool.allocateBlock(65536, s2);
  assert.equal(lent.segment, kept.segment);
  assert.equal(pool.stats().borrowedAcrossStreams, 1);
  assert.equal(pool.stats().segments.current, 1);
  // Nothing left to borrow: the limit's error is thrown as before.
  assert.throws(() => pool.allocateBlock(4 * 1024 * 1024, s2), OutOfMemoryError);
  pool.deallocateBlock(lent, s2);
  pool.deallocateBlock(kept, s1);
});

Deno.test("pool: a block used on an idle stream goes back at once; a busy one holds it back", () => {
  const { pool } = newPool();
  using s1 = new Stream(cpuDevice);
  using s2 = new Stream(cpuDevice);
  const block = pool.allocateBlock(4096, s1);
  pool.recordStream(block, s2);
  pool.deallocateBlock(block, s1);
  assert.equal(pool.stats().freeCachedBytes, 2 * 1024 * 1024, "cached, not held back");
  assert.equal(pool.stats().largestFreeBlock, 2 * 1024 * 1024, "merged with its neighbour");
  const again = pool.allocateBlock(4096, s1);
  assert.equal(again.address, block.address, "the same place serves the same request");
  using busy = new BusyStream(cpuDevice);
  pool.recordStream(again, busy);
  pool.deallocateBlock(again, s1);
  assert.equal(pool.stats().freeCachedBytes, 2 * 1024 * 1024 - 4096, "a busy user holds it back");
  pool.trim(Number.MAX_SAFE_INTEGER); // the cpu device's events are complete: collected
  assert.equal(pool.stats().freeCachedBytes, 2 * 1024 * 1024);
});

Deno.test("pool: random operations under injected faults keep blocks apart and statistics exact", () => {
  for (let run = 0; run < 24; run++) {
    const seed = (Math.random() * 2 ** 31) >>> 0;
    const growing = run % 2 === 1;
    try {
      propertyRun(seed, growing);
    } catch (error) {
      throw new Error(
        `property run failed; replay with propertyRun(${seed}, ${growing}): ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  }
});

/** An upstream for the property test: fixed segments, or segments growing in place. */
function faultyUpstream(seed: number, growing: boolean) {
  if (growing) {
    // Small ranges, so requests also exhaust ranges and reserve new ones.
    const memory = new HostVirtualMemoryResource({ defaultRangeBytes: 32 * MiB });
    return {
      upstream: new FaultInjectingAddressSpace(memory, { failRate: 0.2, seed }),
      heldBytes: () => memory.mappedBytes,
      leaked: () => memory.reservedBytes + memory.mappedBytes,
    };
  }
  const host = new HostResource();
  return {
    upstream: new FaultInjectingResource(host, { failRate: 0.2, seed }),
    heldBytes: () => host.live.bytes,
    leaked: () => host.live.count,
  };
}

function propertyRun(seed: number, growing: boolean): void {
  let state = seed || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const { upstream, heldBytes, leaked } = faultyUpstream(seed, growing);
  const pool = new MemoryPool(upstream, { limit: 96 * MiB });
  const streams = [new Stream(cpuDevice), new Stream(cpuDevice)];
  const live: { buffer: DeviceBuffer; fill: number }[] = [];
  let requested = 0;
  for (let step = 0; step < 400; step++) {
    const action = random();
    if (action < 0.55) {
      const bytes = random() < 0.8
        ? 1 + Math.floor(random() * 64 * 1024)
        : 1 + Math.floor(random() * 24 * MiB);
      const stream = streams[Math.floor(random() * 2)];
      try {
        const buffer = DeviceBuffer.allocate(bytes, {
          resource: pool,
          stream,
          label: `step${step}`,
        });
        const fill = step % 251;
        // Mark the first 4 KiB and the last byte: enough to see an overlap, cheap for big buffers.
        buffer.fill(fill, 0, Math.min(bytes, 4096));
        buffer.fill(fill, bytes - 1, 1);
        live.push({ buffer, fill });
        requested += bytes;
      } catch (error) {
        if (!(error instanceof OutOfMemoryError)) throw error;
      }
    } else if (action < 0.9 && live.length > 0) {
      const [{ buffer, fill }] = live.splice(Math.floor(random() * live.length), 1);
      const head = buffer.copyToHost(new Uint8Array(Math.min(buffer.byteLength, 4096)));
      const last = buffer.view(buffer.byteLength - 1).copyToHost()[0];
      if (!head.every((b) => b === fill) || last !== fill) {
        throw new Error("a live buffer's content was overwritten");
      }
      requested -= buffer.byteLength;
      buffer.free();
    } else if (action < 0.95) {
      pool.trim(Math.floor(random() * 48 * MiB));
    } else if (live.length > 0) {
      live[0].buffer.recordStream(streams[1]);
      if (!threw(() => pool.recordStream(live[0].buffer as never, streams[1]))) {
        throw new Error("a DeviceBuffer passed as a block was accepted");
      }
    }
    const stats = pool.stats();
    if (stats.allocations.current !== live.length) throw new Error("allocation count drifted");
    if (stats.requestedBytes.current !== requested) throw new Error("requested bytes drifted");
    if (stats.reservedBytes.current !== heldBytes()) {
      throw new Error("reserved bytes differ from the upstream's");
    }
    if (stats.reservedBytes.current > 96 * MiB) throw new Error("limit exceeded");
  }
  const ranges = live.map(({ buffer }) =>
    [buffer.ptr, buffer.ptr + BigInt(buffer.byteLength)] as const
  )
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw new Error("live blocks overlap");
  }
  live.forEach(({ buffer }) => buffer.free());
  pool.close();
  streams.forEach((s) => s.close());
  if (leaked() !== 0) throw new Error(`upstream memory leaked: ${leaked()}`);
}

function threw(body: () => unknown): boolean {
  try {
    body();
    return false;
  } catch (error) {
    return error instanceof InvalidArgumentError;
  }
}

Deno.test("pool: the free index's best fit matches a plain sorted list on random inserts, takes and removes", () =>
  withSeed((rng) => {
    const index = new FreeIndex();
    const reference: { size: number; binSlot: number; id: number }[] = [];
    for (let step = 0; step < 20_000; step++) {
      const roll = rng.next();
      if (roll < 0.5 || reference.length === 0) {
        // Few sizes or many: runs of one size and ever-new ones both.
        const size = 512 * (1 + Math.floor(rng.next() * (rng.next() < 0.5 ? 8 : 5000)));
        const block = { size, binSlot: -1, id: step };
        index.insert(block as never);
        reference.push(block);
      } else if (roll < 0.8) {
        const want = 512 * (1 + Math.floor(rng.next() * 5000));
        const got = index.takeBestFit(want) as unknown as { size: number; id: number } | null;
        const fits = reference.filter((b) => b.size >= want);
        const best = fits.length === 0 ? undefined : Math.min(...fits.map((b) => b.size));
        assert.equal(got?.size, best, `step ${step}: best fit for ${want}`);
        if (got !== null) reference.splice(reference.findIndex((b) => b.id === got.id), 1);
      } else {
        const [gone] = reference.splice(Math.floor(rng.next() * reference.length), 1);
        index.remove(gone as never);
      }
      if (step % 1000 === 0) {
        assert.equal(index.count, reference.length);
        assert.equal(index.bytes, reference.reduce((sum, b) => sum + b.size, 0));
        assert.equal(index.largest, Math.max(0, ...reference.map((b) => b.size)));
        let visited = 0;
        index.forEachBlock(() => visited++);
        assert.equal(visited, reference.length);
      }
    }
  }));

Deno.test("pool: stream epochs settle what an idle stream had filed, and only that", () => {
  const epochs = new StreamEpochs();
  using stream = new Stream(cpuDevice);
  const filedBefore = epochs.current; // a block filed now carries this
  const settled = epochs.settle(stream, cpuDevice); // the cpu device's streams are always idle
  assert.ok(settled >= filedBefore, "what was filed before is past its work");
  assert.ok(epochs.current > settled, "what is filed after waits for the next settle");
  assert.ok(epochs.settle(null, cpuDevice) >= settled + 1);
  epochs.close();
});

Deno.test("pool: a growth may give back free memory of a stream closed since (no error, nothing lost)", () => {
  const space = new HostVirtualMemoryResource();
  const pool = new MemoryPool(space);
  const g = space.granularity;
  const side = new Stream(cpuDevice);
  pool.deallocateBlock(pool.allocateBlock(32 * g, side)); // 32 g free in side's range
  side.close();
  // 40 g on the default stream fit nowhere: growth, which first unmaps side's free 32 g.
  const grown = pool.allocateBlock(40 * g);
  assert.equal(pool.stats().reservedBytes.peak, 40 * g);
  assert.equal(space.mappedBytes, 40 * g);
  pool.deallocateBlock(grown);
  pool.close();
  assert.equal(space.mappedBytes, 0);
  assert.equal(space.reservedBytes, 0);
});
