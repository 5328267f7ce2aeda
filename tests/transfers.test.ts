/** The transfer contracts on the cpu device, plus what only the cpu side can show. */

import assert from "node:assert/strict";
import {
  cpuDevice,
  getMemoryManager,
  HostBuffer,
  kernelLibrary,
  TransferPipeline,
} from "../mod.ts";
import { registerTransferContracts } from "./contracts/transfer_contracts.ts";

// Opened once for the process, outside any test: the resource sanitizer checks what tests open.
kernelLibrary("cpu");
registerTransferContracts("cpu transfers", () => ({ device: cpuDevice, asyncDma: false }));

Deno.test("the manager's pinned pool serves HostBuffers and staging, and reports them", async () => {
  const manager = getMemoryManager();
  const pool = manager.pinnedPool(cpuDevice);
  const before = pool.stats().allocatedBytes.current;
  {
    using host = HostBuffer.allocate(3000, { device: cpuDevice, label: "test.pinned" });
    assert.equal(pool.stats().allocatedBytes.current - before, 3072);
    assert.ok(manager.totalUsage().pinnedAllocatedBytes >= 3072);
    assert.match(manager.report(), /pinned\(cpu\)/);
    assert.ok(manager.tracker.live().some((entry) => entry.label === "test.pinned"));
    host.bytes[0] = 1;
  }
  using pipeline = new TransferPipeline({ device: cpuDevice });
  assert.equal(pipeline.stream.device, cpuDevice);
  await Promise.resolve();
  assert.equal(pool.stats().allocatedBytes.current, before);
  manager.freeCache(cpuDevice);
  assert.equal(pool.stats().reservedBytes.current, 0);
});
