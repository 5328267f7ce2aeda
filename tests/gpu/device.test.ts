/** Devices, contexts, streams, events, resources and errors against the real driver. */

import assert from "node:assert/strict";
import {
  CudaAsyncResource,
  CudaError,
  CudaMallocResource,
  defaultDevice,
  Device,
  DeviceBuffer,
  Event,
  getMemoryManager,
  GpumemError,
  InvalidArgumentError,
  OutOfMemoryError,
  Stream,
} from "../../mod.ts";
import { cudaDriver } from "../../src/cuda/driver.ts";
import { expectError } from "../contracts/expect_error.ts";
import { randomBytes } from "../contracts/random.ts";
import { gpu, gpuTest } from "./gpu_available.ts";

gpuTest("devices report name, memory, capability and the attributes later layers need", () => {
  const count = Device.count();
  assert.ok(count >= 1);
  const device = gpu();
  assert.equal(Device.get(0), device, "one Device object per ordinal");
  assert.equal(defaultDevice(), device, "cuda:0 is the default where a GPU is usable");
  assert.ok(device.name.length > 0);
  assert.ok(device.totalMemory > 2 ** 30);
  assert.ok(device.computeCapability[0] >= 7);
  assert.ok(device.multiprocessorCount > 0);
  assert.equal(typeof device.capabilities.virtualMemoryManagement, "boolean");
  assert.ok(device.capabilities.unifiedAddressing);
  const { free, total } = device.memInfo();
  assert.equal(total, device.totalMemory);
  assert.ok(free > 0 && free <= total);
  assert.ok(cudaDriver().version >= 12000);
  assert.throws(() => Device.get(count), InvalidArgumentError);
  assert.throws(() => Device.get(-1), InvalidArgumentError);
});

gpuTest("memory taken by a buffer shows in memInfo; the pool keeps it until freeCache", () => {
  const device = gpu();
  const pool = getMemoryManager().pool(device);
  pool.freeCache();
  const bytes = 1 << 30;
  const before = device.memInfo().free;
  const buffer = DeviceBuffer.allocate(bytes, { device, label: "gpu.memInfo" });
  assert.equal(buffer.resource, pool, "default allocations come from the manager's pool");
  const during = device.memInfo().free;
  assert.ok(before - during >= bytes, `free fell by ${before - during}`);
  buffer.free();
  assert.ok(device.memInfo().free < during + bytes, "cached by the pool, not yet given back");
  assert.equal(pool.stats().freeCachedBytes, bytes);
  pool.freeCache();
  assert.ok(device.memInfo().free >= during + bytes, "given back by freeCache");
});

gpuTest(
  "an allocation larger than the device is OutOfMemoryError with the device's figures",
  () => {
    const device = gpu();
    const resource = new CudaMallocResource(device);
    const bytes = device.totalMemory * 2;
    const oom = expectError(() => resource.allocate(bytes), OutOfMemoryError);
    assert.equal(oom.requestedBytes, bytes);
    assert.equal(oom.device, "cuda:0");
    assert.equal(oom.totalBytes, device.totalMemory);
    assert.ok(oom.freeBytes > 0);
    assert.ok(oom.cause instanceof CudaError);
    assert.equal((oom.cause as CudaError).codeName, "CUDA_ERROR_OUT_OF_MEMORY");
    assert.equal(resource.live.count, 0);
    const asyncOom = expectError(
      () => new CudaAsyncResource(device).allocate(bytes),
      OutOfMemoryError,
    );
    assert.equal(asyncOom.requestedBytes, bytes);
  },
);

gpuTest("a failing driver call is CudaError with the driver's name and message", () => {
  // Copying from address 0 reaches the driver (ByteOps is below validation) and is refused there.
  const error = expectError(() => gpu().ops.deviceToHost(new Uint8Array(16), 0n), CudaError);
  assert.equal(error.call, "cuMemcpyDtoH_v2");
  assert.match(error.codeName, /^CUDA_ERROR_/);
  assert.ok(error.code > 0);
  assert.ok(error.driverMessage.length > 0);
  assert.match(error.message, /^cuMemcpyDtoH_v2 failed: CUDA_ERROR_\w+ \(\d+\): /);
});

gpuTest(
  "stream-ordered copies are right, and waiting for them leaves the event loop free",
  async () => {
    const device = gpu();
    using stream = new Stream(device);
    assert.notEqual(stream.handle, null);
    const data = randomBytes(64 << 20);
    using source = DeviceBuffer.fromHost(data, { device });
    using big = DeviceBuffer.allocate(1 << 30, { device });
    using scratch = DeviceBuffer.allocate(1 << 30, { device });
    using target = DeviceBuffer.allocate(data.byteLength, { device });
    // ~20 ms of queued device work, then the copy we check, all on one stream.
    for (let i = 0; i < 20; i++) {
      device.ops.deviceToDevice(
        scratch.ptr,
        big.ptr,
        1 << 30,
        stream.handle,
      );
    }
    device.ops.deviceToDevice(target.ptr, source.ptr, data.byteLength, stream.handle);
    assert.equal(stream.query(), false, "the queued work is still running");
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await stream.synchronizeAsync();
    clearInterval(timer);
    assert.ok(stream.query());
    assert.ok(ticks > 0, "timers ran while the stream was awaited");
    assert.deepEqual(await target.copyToHostAsync(stream), data);
  },
);

gpuTest("events order one stream after another and time device work", async () => {
  const device = gpu();
  using producer = new Stream(device);
  using consumer = new Stream(device);
  using start = new Event(device);
  using done = new Event(device);
  const data = randomBytes(32 << 20);
  using a = DeviceBuffer.fromHost(data, { device });
  using b = DeviceBuffer.allocate(data.byteLength, { device });
  b.fill(0);
  start.record(producer);
  device.ops.deviceToDevice(b.ptr, a.ptr, data.byteLength, producer.handle);
  done.record(producer);
  consumer.waitEvent(done); // the consumer's copy back must see the producer's copy
  const back = await b.copyToHostAsync(consumer);
  assert.deepEqual(back, data);
  await done.synchronizeAsync();
  assert.ok(done.query());
  const ms = done.elapsedSince(start);
  assert.ok(ms > 0 && ms < 1000, `${ms} ms`);
  using untimed = new Event(device, { timing: false });
  untimed.record(producer);
  untimed.synchronize();
  assert.throws(() => untimed.elapsedSince(start), GpumemError);
});

gpuTest("the stream-ordered resource exposes the driver pool's threshold, usage and trim", () => {
  const device = gpu();
  using stream = new Stream(device);
  const resource = new CudaAsyncResource(device, { releaseThreshold: 256 << 20 });
  assert.equal(resource.releaseThreshold, 256 << 20);
  const address = resource.allocate(64 << 20, stream);
  assert.ok(resource.usedBytes() >= 64 << 20);
  assert.ok(resource.reservedBytes() >= 64 << 20);
  resource.deallocate(address, 64 << 20, stream);
  stream.synchronize();
  assert.ok(resource.reservedBytes() >= 64 << 20, "freed memory stays cached under the threshold");
  resource.trimTo(0);
  assert.equal(resource.reservedBytes(), 0);
  resource.releaseThreshold = 0;
  assert.throws(() => (resource.releaseThreshold = -1), InvalidArgumentError);
  assert.throws(
    () => resource.allocate(16, new Stream(defaultDevice()) && ({} as Stream)),
    InvalidArgumentError,
  );
});

gpuTest("a device with live allocations, streams or events refuses to close", () => {
  const device = gpu();
  const buffer = DeviceBuffer.allocate(1024, { device });
  assert.throws(() => device.close(), GpumemError);
  buffer.free();
  const stream = new Stream(device);
  assert.throws(() => device.close(), GpumemError);
  stream.close();
  assert.equal(device.closed, false);
});
