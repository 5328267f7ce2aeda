/** ResizableBuffer on the cpu device: both strategies (host mmap for "vmm", host memory for "copy"). */

import assert from "node:assert/strict";
import {
  cpuDevice,
  DisposedError,
  FaultInjectingResource,
  GpumemError,
  HostResource,
  HostVirtualMemoryResource,
  InvalidArgumentError,
  MemoryPool,
  ResizableBuffer,
} from "../mod.ts";
import { FaultInjectingAddressSpace } from "../src/memory/address_space/fault_injecting_address_space.ts";
import { expectError } from "./contracts/expect_error.ts";
import { registerResizableContracts } from "./contracts/resizable_contracts.ts";

registerResizableContracts("cpu resizable (vmm over mmap)", "vmm", () => ({
  pool: new MemoryPool(new HostVirtualMemoryResource()),
  flakyPool: (seed) =>
    new MemoryPool(
      new FaultInjectingAddressSpace(new HostVirtualMemoryResource(), { failRate: 0.5, seed }),
    ),
}));

registerResizableContracts("cpu resizable (copy)", "copy", () => ({
  pool: new MemoryPool(new HostResource()),
  flakyPool: (seed) =>
    new MemoryPool(new FaultInjectingResource(new HostResource(), { failRate: 0.5, seed })),
}));

Deno.test("resizable: auto picks vmm where the pool can map, copy elsewhere", () => {
  const mapped = new MemoryPool(new HostVirtualMemoryResource());
  const plain = new MemoryPool(new HostResource());
  using a = ResizableBuffer.create(10, { pool: mapped });
  using b = ResizableBuffer.create(10, { pool: plain });
  assert.equal(a.strategy, "vmm");
  assert.equal(b.strategy, "copy");
  expectError(
    () => ResizableBuffer.create(0, { pool: plain, strategy: "vmm" }),
    InvalidArgumentError,
  );
  using c = ResizableBuffer.create(10, { pool: mapped, strategy: "copy" });
  assert.equal(c.strategy, "copy");
  // The default pool of the cpu device maps (host mmap, FFI being allowed here).
  using d = ResizableBuffer.create(10, { device: cpuDevice });
  assert.equal(d.strategy, "vmm");
});

Deno.test("resizable: any memory resource serves the copy strategy; vmm needs growable ranges", () => {
  const host = new HostResource();
  using r = ResizableBuffer.create(16, { pool: host, label: "test.plain" });
  assert.equal(r.strategy, "copy");
  r.append(Float32Array.of(1, 2, 3));
  assert.deepEqual(new Float32Array(r.copyToHost().buffer.slice(16)), Float32Array.of(1, 2, 3));
  assert.ok(host.live.count > 0);
  expectError(
    () => ResizableBuffer.create(0, { pool: host, strategy: "vmm" }),
    InvalidArgumentError,
  );
  expectError(
    () => ResizableBuffer.create(0, { device: cpuDevice, pool: {} as never }),
    InvalidArgumentError,
  );
  r.free();
  assert.equal(host.live.count, 0, "everything went back to the resource");
});

Deno.test("resizable: a pool refuses to close under an open vmm buffer", () => {
  const pool = new MemoryPool(new HostVirtualMemoryResource());
  const buffer = ResizableBuffer.create(1 << 20, { pool, label: "test.open" });
  const error = expectError(() => pool.close(), GpumemError);
  assert.match(error.message, /growable ranges are open/);
  assert.match(error.message, /test\.open/);
  buffer.free();
  pool.close();
});

Deno.test("growable ranges: bad input is a typed error before any mapping, nothing leaked", () => {
  const space = new HostVirtualMemoryResource();
  const pool = new MemoryPool(space);
  for (const bad of [0, -1, 1.5, NaN, "1GiB" as unknown as number]) {
    expectError(() => pool.reserveGrowable(bad), InvalidArgumentError);
  }
  expectError(
    () => new MemoryPool(new HostResource()).reserveGrowable(1 << 20),
    InvalidArgumentError,
  );
  assert.equal(space.reservedBytes, 0, "nothing reserved by a refused call");
  const range = pool.reserveGrowable(4 << 20, "test.range");
  expectError(() => range.grow(8 << 20), InvalidArgumentError); // past what was reserved
  expectError(() => range.grow(-1), InvalidArgumentError);
  expectError(() => range.shrink(0.5), InvalidArgumentError);
  assert.equal(space.mappedBytes, 0, "refused growth mapped nothing");
  range.grow(3 << 20);
  assert.equal(range.mappedBytes, space.roundUp(3 << 20));
  assert.equal(pool.stats().allocatedBytes.current, range.mappedBytes);
  range.close();
  range.close(); // idempotent
  expectError(() => range.grow(1), DisposedError);
  assert.deepEqual([space.reservedBytes, space.mappedBytes], [0, 0]);
  assert.equal(pool.stats().allocatedBytes.current, 0);
  pool.close();
  expectError(() => pool.reserveGrowable(1 << 20), GpumemError);
});
