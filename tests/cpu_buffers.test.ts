/** The DeviceBuffer contracts on the cpu device, plus what only the cpu device shows. */

import assert from "node:assert/strict";
import { cpuDevice, DeviceBuffer, HostResource, OutOfMemoryError } from "../mod.ts";
import { HOST_ALIGNMENT } from "../src/memory/host_resource.ts";
import { liveOf, registerBufferContracts } from "./contracts/buffer_contracts.ts";
import { expectError } from "./contracts/expect_error.ts";

const host = new HostResource();
registerBufferContracts(
  "cpu",
  () => ({ resource: host, live: () => liveOf(host.live), streamOrdered: false }),
);

Deno.test("cpu: HostResource addresses are aligned and readable through the pointer API", () => {
  const address = host.allocate(1000);
  try {
    assert.equal(address % BigInt(HOST_ALIGNMENT), 0n);
    const pointer = Deno.UnsafePointer.create(address)!;
    assert.ok(
      new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointer, 1000)).every((b) => b === 0),
    );
  } finally {
    host.deallocate(address, 1000);
  }
});

Deno.test("cpu: an impossible allocation is OutOfMemoryError with the figures", () => {
  const bytes = 2 ** 52;
  const oom = expectError(() => DeviceBuffer.allocate(bytes, { resource: host }), OutOfMemoryError);
  assert.equal(oom.requestedBytes, bytes);
  assert.equal(oom.device, "cpu");
  assert.match(oom.message, /tried to allocate 4096\.00 TiB/);
  assert.ok(oom.cause instanceof RangeError);
  assert.equal(host.live.count, 0);
});

Deno.test("cpu: buffers default to the cpu device when no GPU is usable", () => {
  using buffer = DeviceBuffer.allocate(16, { device: cpuDevice });
  assert.equal(buffer.device, cpuDevice);
  assert.equal(buffer.resource.device, cpuDevice);
  assert.equal(String(buffer), "DeviceBuffer(cpu, 16 B)");
});
