/** Address-space resources (host mmap, the virtual upstream) and pools growing in place over them. */

import assert from "node:assert/strict";
import {
  DeviceBuffer,
  HostResource,
  HostVirtualMemoryResource,
  InvalidArgumentError,
  MemoryPool,
} from "../mod.ts";
import { isAddressSpaceResource } from "../src/memory/address_space/address_space_resource.ts";
import { VirtualResource } from "../src/memory/virtual_resource.ts";
import {
  registerAddressSpaceContracts,
  registerGrowingPoolContracts,
} from "./contracts/address_space_contracts.ts";
import { liveOfPool, registerBufferContracts } from "./contracts/buffer_contracts.ts";
import { expectError } from "./contracts/expect_error.ts";

const host = new HostVirtualMemoryResource();
registerAddressSpaceContracts("host-vm", () => ({ space: host, backed: true }));
registerAddressSpaceContracts("virtual", () => ({ space: new VirtualResource(), backed: false }));
registerGrowingPoolContracts("host-vm pool", () => host);

const contractPool = new MemoryPool(host);
registerBufferContracts("host-vm pool", () => ({
  resource: contractPool,
  live: () => liveOfPool(contractPool),
  streamOrdered: false,
}));

Deno.test("host-vm: mapped memory is zeroed, and a piece mapped again starts from zero", () => {
  const g = host.granularity;
  const range = host.reserve(2 * g);
  host.map(range, g);
  const back = new Uint8Array(g);
  host.device.ops.deviceToHost(back, range);
  assert.ok(back.every((b) => b === 0));
  host.device.ops.fill(range, 9, g);
  host.unmap(range, g);
  host.map(range, g);
  host.device.ops.deviceToHost(back, range);
  assert.ok(back.every((b) => b === 0), "the old pages were given back");
  host.unmap(range, g);
  host.release(range, 2 * g);
});

Deno.test("address space: bad options are InvalidArgumentError", () => {
  for (const granularity of [0, 1000, -4096, 0.5]) {
    expectError(() => new HostVirtualMemoryResource({ granularity }), InvalidArgumentError);
  }
  for (const defaultRangeBytes of [0, -1, 0.5, NaN, Infinity]) {
    expectError(() => new HostVirtualMemoryResource({ defaultRangeBytes }), InvalidArgumentError);
  }
  expectError(
    () => new MemoryPool(host, { expandableSegments: "yes" as unknown as boolean }),
    InvalidArgumentError,
  );
  expectError(
    () => new MemoryPool(new HostResource(), { expandableSegments: true }),
    InvalidArgumentError,
  );
  assert.equal(isAddressSpaceResource(host), true);
  assert.equal(isAddressSpaceResource(new HostResource()), false);
  const fixed = new MemoryPool(new VirtualResource(), { expandableSegments: false });
  assert.equal(fixed.expandableSegments, false);
  fixed.deallocateBlock(fixed.allocateBlock(4096));
  fixed.close();
});

Deno.test("growing pool: small and large requests share one range", () => {
  const upstream = new VirtualResource();
  const pool = new MemoryPool(upstream);
  const small = pool.allocateBlock(4096);
  const large = pool.allocateBlock(8 << 20);
  // One range per stream for every size: free space never waits in one class while the other
  // grows (the split is PyTorch's, kept for fixed segments).
  assert.equal(small.segment, large.segment);
  assert.equal(upstream.reservedBytes, upstream.defaultRangeBytes);
  assert.ok(upstream.mappedBytes <= (2 << 20) + (8 << 20), "mapped next to the free space");
  pool.deallocateBlock(small);
  pool.deallocateBlock(large);
  pool.close();
  assert.equal(upstream.reservedBytes, 0);
});

Deno.test("growing pool: a request larger than the default range gets a range of its own", () => {
  const memory = new HostVirtualMemoryResource({ defaultRangeBytes: 4 << 20 });
  const pool = new MemoryPool(memory);
  const buffer = DeviceBuffer.allocate(9 << 20, { resource: pool });
  buffer.fill(1);
  assert.equal(memory.reservedBytes, 10 << 20);
  buffer.free();
  pool.close();
  assert.equal(memory.reservedBytes, 0);
});

// Last in this file: the pool the buffer contracts shared gives everything back (a block still
// live would make close() throw), and every suite over `host` unmapped and released what it took
// (tests/gpu/address_space.test.ts ends the same way over CUDA's VMM).
Deno.test("host-vm pool: the shared pool closes with nothing live, nothing mapped or reserved", () => {
  contractPool.close();
  assert.equal(host.mappedBytes, 0, "every suite over this resource unmapped what it mapped");
  assert.equal(host.reservedBytes, 0, "and released its ranges");
});
