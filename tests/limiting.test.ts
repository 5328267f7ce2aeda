/** LimitingResource: a byte limit as a layer over any resource (RMM's limiting adaptor). */

import assert from "node:assert/strict";
import {
  cpuDevice,
  DeviceBuffer,
  HostResource,
  InvalidArgumentError,
  LimitingResource,
  MemoryPool,
  OutOfMemoryError,
} from "../mod.ts";
import { isBlockResource } from "../src/memory/resource.ts";
import { expectError } from "./contracts/expect_error.ts";

const MiB = 1 << 20;

Deno.test("limiting: refuses past the limit before the upstream is asked, counts frees", () => {
  const host = new HostResource();
  const limited = new LimitingResource(host, { limit: "3MiB" });
  assert.ok(!isBlockResource(limited), "no block path over a plain resource");
  const a = DeviceBuffer.allocate(2 * MiB, { resource: limited });
  const b = DeviceBuffer.allocate(MiB, { resource: limited });
  assert.equal(limited.liveBytes, 3 * MiB);
  const error = expectError(
    () => DeviceBuffer.allocate(1, { resource: limited }),
    OutOfMemoryError,
  );
  assert.match(error.message, /limit\(host\)'s limit of 3\.00 MiB would be exceeded/);
  assert.equal(host.live.count, 2, "the refused allocation never reached the upstream");
  a.free();
  using c = DeviceBuffer.allocate(2 * MiB, { resource: limited });
  assert.equal(limited.liveBytes, 3 * MiB);
  assert.equal(limited.peakBytes, 3 * MiB);
  b.free();
  c.free();
  assert.equal(limited.liveBytes, 0);
  assert.equal(host.live.count, 0);
});

Deno.test("limiting: over a pool it keeps the block path and counts each block", () => {
  const pool = new MemoryPool(new HostResource());
  const limited = new LimitingResource(pool, { limit: 4 * MiB });
  assert.ok(isBlockResource(limited));
  const a = DeviceBuffer.allocate(3 * MiB, { resource: limited, label: "limited.a" });
  expectError(() => DeviceBuffer.allocate(2 * MiB, { resource: limited }), OutOfMemoryError);
  assert.equal(pool.stats().allocations.current, 1, "the refusal took nothing from the pool");
  a.free();
  using b = DeviceBuffer.allocate(4 * MiB, { resource: limited });
  assert.equal(limited.liveBytes, 4 * MiB);
  b.free();
  assert.equal(limited.liveBytes, 0);
  pool.close();
});

Deno.test("limiting: a percentage is of the upstream's memory; bad input is a typed error", () => {
  const host = new HostResource();
  const half = new LimitingResource(host, { limit: "50%" });
  assert.equal(half.limit, Math.floor(cpuDevice.memInfo().total * 0.5));
  for (const bad of [-1, "x", 1.5, undefined]) {
    expectError(() => new LimitingResource(host, { limit: bad as never }), InvalidArgumentError);
  }
  expectError(() => new LimitingResource({} as never, { limit: 1 }), InvalidArgumentError);
  expectError(() => new LimitingResource(host, null as never), InvalidArgumentError);
  const limited = new LimitingResource(host, { limit: MiB });
  expectError(() => limited.allocate(-1), InvalidArgumentError);
  assert.equal(limited.liveBytes, 0);
});
