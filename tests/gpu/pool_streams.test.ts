/**
 * The pool across real CUDA streams: a miss borrows an idle stream's free block at once, a busy
 * one's only when growing is refused, and then the borrowing stream's work runs after the
 * lender's (checked on the data: the lender's late write must not land over the borrower's).
 * Growing in place, a growth gives back free memory only once its stream's work is past it.
 */

import assert from "node:assert/strict";
import {
  CudaMallocResource,
  CudaVirtualMemoryResource,
  DeviceBuffer,
  MemoryPool,
  Stream,
} from "../../mod.ts";
import { gpu, gpuTest } from "./gpu_available.ts";

const MiB = 1024 * 1024;

/** Queues `fills` fills of `scratch` on `stream` (a few ms of device work for 512 MiB × 40). */
function keepBusy(stream: Stream, scratch: DeviceBuffer, fills: number): Promise<void>[] {
  const done: Promise<void>[] = [];
  for (let i = 0; i < fills; i++) done.push(scratch.fillAsync(i & 0xff, stream));
  return done;
}

gpuTest(
  "pool on cuda: an idle stream's free block is lent at once, a busy one's is not",
  async () => {
    const device = gpu();
    const pool = new MemoryPool(new CudaMallocResource(device));
    using s1 = new Stream(device);
    using s2 = new Stream(device);
    using scratch = DeviceBuffer.allocate(512 * MiB, { device });
    DeviceBuffer.allocate(64 * MiB, { resource: pool, stream: s1 }).free(); // s1 caches 64 MiB
    const work = keepBusy(s1, scratch, 40);
    const own = DeviceBuffer.allocate(16 * MiB, { resource: pool, stream: s2 });
    assert.equal(pool.stats().borrowedAcrossStreams, 0, "s1 is busy: s2 grows instead");
    await Promise.all(work);
    const calls = pool.stats().upstreamCalls;
    const lent = DeviceBuffer.allocate(32 * MiB, { resource: pool, stream: s2 });
    assert.equal(pool.stats().borrowedAcrossStreams, 1, "s1 is idle now: lent");
    assert.equal(pool.stats().upstreamCalls, calls, "no new memory");
    lent.free();
    own.free();
    await s2.synchronizeAsync();
    pool.close();
  },
);

gpuTest(
  "pool on cuda: under its limit a miss borrows from a busy stream, ordered after it",
  async () => {
    const device = gpu();
    const pool = new MemoryPool(new CudaMallocResource(device), { limit: 64 * MiB });
    using s1 = new Stream(device);
    using s2 = new Stream(device);
    using scratch = DeviceBuffer.allocate(512 * MiB, { device });
    // One 48 MiB segment on s1: 8 MiB stay live in it (so freeing the cache cannot take it back).
    DeviceBuffer.allocate(48 * MiB, { resource: pool, stream: s1 }).free();
    const kept = DeviceBuffer.allocate(8 * MiB, { resource: pool, stream: s1 });
    const work = keepBusy(s1, scratch, 40);
    const victim = DeviceBuffer.allocate(32 * MiB, { resource: pool, stream: s1 });
    const late = victim.fillAsync(0x11, s1); // lands only after s1's queued work
    victim.free();
    const lent = DeviceBuffer.allocate(32 * MiB, { resource: pool, stream: s2 });
    assert.equal(pool.stats().borrowedAcrossStreams, 1);
    assert.equal(pool.stats().segments.current, 1, "no new segment: the limit forbids one");
    await lent.fillAsync(0x22, s2);
    const back = await lent.copyToHostAsync(s2);
    assert.ok(back.every((byte) => byte === 0x22), "s2's write came after s1's");
    await Promise.all([...work, late]);
    lent.free();
    kept.free();
    await s2.synchronizeAsync();
    pool.close();
  },
);

gpuTest(
  "pool on cuda VMM: a growth unmaps a freed block only once the work queued on it is done",
  async () => {
    const device = gpu();
    const pool = new MemoryPool(new CudaVirtualMemoryResource(device));
    using s1 = new Stream(device);
    using scratch = DeviceBuffer.allocate(512 * MiB, { device });
    const big = DeviceBuffer.allocate(64 * MiB, { resource: pool, stream: s1 });
    const tail = DeviceBuffer.allocate(2 * MiB, { resource: pool, stream: s1 });
    const work = keepBusy(s1, scratch, 40);
    const late = big.fillAsync(0x33, s1); // still queued behind the fills when big is freed
    big.free();
    // 96 MiB fits in no free block: growth. The 64 MiB freed are not past s1's work: kept.
    const grown = DeviceBuffer.allocate(96 * MiB, { resource: pool, stream: s1 });
    assert.equal(
      pool.stats().reservedBytes.current,
      162 * MiB,
      "nothing unmapped under queued work",
    );
    await Promise.all([...work, late]);
    grown.free();
    // s1 is idle now: the next growth (32 MiB after grown's 96) unmaps half of the freed 64 MiB
    // first, so the pool's peak stays where it was.
    const more = DeviceBuffer.allocate(128 * MiB, { resource: pool, stream: s1 });
    assert.equal(pool.stats().reservedBytes.peak, 162 * MiB);
    assert.equal(pool.stats().reservedBytes.current, 162 * MiB);
    await more.fillAsync(0x44, s1);
    const back = await more.copyToHostAsync(s1);
    assert.ok(back.every((byte) => byte === 0x44));
    more.free();
    tail.free();
    await s1.synchronizeAsync();
    pool.close();
  },
);

gpuTest(
  "pool on cuda: a block used on a busy stream waits for its work; on an idle one it is back at once",
  async () => {
    const device = gpu();
    const pool = new MemoryPool(new CudaMallocResource(device));
    using s1 = new Stream(device);
    using s2 = new Stream(device);
    using scratch = DeviceBuffer.allocate(512 * MiB, { device });
    const block = DeviceBuffer.allocate(32 * MiB, { resource: pool, stream: s1 });
    const cached = pool.stats().freeCachedBytes;
    const address = block.ptr;
    // Used on s2, which is still working when the block is freed: held back from s1's lists.
    const work = keepBusy(s2, scratch, 40);
    block.recordStream(s2);
    block.free();
    assert.equal(pool.stats().freeCachedBytes, cached, "held back while s2 works");
    await Promise.all(work);
    pool.trim(Number.MAX_SAFE_INTEGER); // collects what s2's event now lets go
    assert.equal(pool.stats().freeCachedBytes, cached + 32 * MiB);
    // Used on s2 again, now idle: back in s1's lists at the free, and the same place serves it.
    const again = DeviceBuffer.allocate(32 * MiB, { resource: pool, stream: s1 });
    assert.equal(again.ptr, address);
    again.recordStream(s2);
    again.free();
    assert.equal(pool.stats().freeCachedBytes, cached + 32 * MiB, "back at once");
    pool.close();
  },
);
