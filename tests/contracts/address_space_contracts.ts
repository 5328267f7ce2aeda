/**
 * The AddressSpaceResource contracts and the contracts of a pool growing in place over one,
 * written once: the cpu suite runs them on host mmap (and the ledger ones on the virtual
 * upstream), tests/gpu on CUDA's virtual memory API.
 */

import assert from "node:assert/strict";
import { DeviceBuffer, InvalidArgumentError, MemoryPool, OutOfMemoryError } from "../../mod.ts";
import type { AddressSpaceResource } from "../../src/memory/address_space/address_space_resource.ts";
import { expectError } from "./expect_error.ts";
import { contractTest } from "./register.ts";
import { randomBytes } from "./random.ts";

/** An address-space resource under test; `backed` when its memory can be read and written. */
export interface AddressSpaceUnderTest {
  space: AddressSpaceResource;
  backed: boolean;
}

/** Registers a test named `<suite>: <name>`, ignored with the reason when `ignore` is set. */
/** The ledger and mapping contracts of an AddressSpaceResource. */
export function registerAddressSpaceContracts(
  suite: string,
  open: () => AddressSpaceUnderTest,
  ignore?: string,
): void {
  const test = (name: string, fn: (subject: AddressSpaceUnderTest) => void) =>
    contractTest(suite, ignore, name, () => {
      const subject = open();
      const { reservedBytes, mappedBytes } = subject.space;
      fn(subject);
      assert.equal(subject.space.reservedBytes, reservedBytes, "a range leaked");
      assert.equal(subject.space.mappedBytes, mappedBytes, "a mapping leaked");
    });

  test("pieces map and unmap inside a reserved range, which keeps its address", ({ space }) => {
    const g = space.granularity;
    const mapped = space.mappedBytes;
    const range = space.reserve(8 * g);
    space.map(range + BigInt(2 * g), 3 * g);
    space.map(range, g);
    assert.equal(space.mappedBytes - mapped, 4 * g);
    assert.deepEqual(space.mappingsWithin(range, 8 * g), [
      { address: range, bytes: g },
      { address: range + BigInt(2 * g), bytes: 3 * g },
    ]);
    assert.deepEqual(space.mappingsWithin(range, 4 * g), [{ address: range, bytes: g }]);
    space.unmap(range + BigInt(2 * g), 3 * g);
    space.map(range + BigInt(g), g); // next to the first piece
    space.unmap(range, g);
    space.unmap(range + BigInt(g), g);
    space.release(range, 8 * g);
  });

  test("misuse is InvalidArgumentError and changes nothing", ({ space }) => {
    const g = space.granularity;
    const range = space.reserve(4 * g);
    space.map(range, 2 * g);
    const mapped = space.mappedBytes;
    const mappings = space.mappings;
    const bad: [string, () => void][] = [
      ["reserve 0", () => space.reserve(0)],
      ["reserve off granularity", () => space.reserve(g + 1)],
      ["map outside", () => space.map(range + BigInt(4 * g), g)],
      ["map past the end", () => space.map(range + BigInt(3 * g), 2 * g)],
      ["map overlapping", () => space.map(range + BigInt(g), 2 * g)],
      ["map unaligned", () => space.map(range + BigInt(2 * g + 512), g)],
      ["map in pieces of 0", () => space.map(range + BigInt(2 * g), 2 * g, 0)],
      ["map in pieces off granularity", () => space.map(range + BigInt(2 * g), 2 * g, g + 512)],
      ["map in pieces of NaN", () => space.map(range + BigInt(2 * g), 2 * g, NaN)],
      ["unmap part of a piece", () => space.unmap(range, g)],
      ["unmap nothing", () => space.unmap(range + BigInt(3 * g), g)],
      ["release while mapped", () => space.release(range, 4 * g)],
      ["release a wrong size", () => space.release(range, 2 * g)],
      ["foreign deallocate", () => space.deallocate(range, 2 * g)],
    ];
    for (const [what, body] of bad) {
      try {
        expectError(body, InvalidArgumentError);
      } catch (error) {
        throw new Error(`${what}: ${(error as Error).message}`, { cause: error });
      }
    }
    assert.equal(space.mappedBytes, mapped);
    assert.equal(space.mappings, mappings, "no piece was mapped by a refused call");
    // In pieces, each unmaps alone.
    space.map(range + BigInt(2 * g), 2 * g, g);
    assert.equal(space.mappings, mappings + 2);
    space.unmap(range + BigInt(2 * g), g);
    space.unmap(range + BigInt(3 * g), g);
    space.unmap(range, 2 * g);
    space.release(range, 4 * g);
  });

  test("allocate and deallocate work as any resource's", ({ space, backed }) => {
    const count = space.live.count;
    const address = space.allocate(1000);
    assert.equal(space.live.count, count + 1);
    if (backed) {
      const bytes = randomBytes(1000);
      space.device.ops.hostToDevice(address, bytes);
      const back = new Uint8Array(1000);
      space.device.ops.deviceToHost(back, address);
      assert.deepEqual(back, bytes);
    }
    space.deallocate(address, 1000);
    expectError(() => space.deallocate(address, 1000), InvalidArgumentError);
  });
}

/** The contracts of a MemoryPool growing in place over a backed AddressSpaceResource. */
export function registerGrowingPoolContracts(
  suite: string,
  open: () => AddressSpaceResource,
  ignore?: string,
): void {
  const test = (name: string, fn: (space: AddressSpaceResource, pool: MemoryPool) => void) =>
    contractTest(suite, ignore, name, () => {
      const space = open();
      const { reservedBytes, mappedBytes } = space;
      const pool = new MemoryPool(space);
      assert.equal(pool.expandableSegments, true);
      fn(space, pool);
      pool.close();
      assert.equal(space.mappedBytes, mappedBytes, "memory leaked");
      assert.equal(space.reservedBytes, reservedBytes, "a range leaked");
    });

  test("growth maps only what a request lacks, next to free space", (space, pool) => {
    const g = space.granularity;
    const first = DeviceBuffer.allocate(g + g / 2, { resource: pool });
    assert.equal(space.mappedBytes, 2 * g);
    // g / 2 is free after `first`; a request of 1.25 g lacks 0.75 g: one granule more, mapped
    // right after, not two somewhere else.
    const second = DeviceBuffer.allocate(g + g / 4, { resource: pool });
    assert.equal(space.mappedBytes, 3 * g);
    assert.equal(second.ptr, first.ptr + BigInt(g + g / 2), "contiguous with the free space");
    const bytes = randomBytes(g + g / 4);
    second.copyFromHost(bytes);
    assert.deepEqual(second.copyToHost(), bytes, "memory across two mappings reads back");
    first.free();
    second.free();
  });

  test("freed space merges across mappings", (space, pool) => {
    const g = space.granularity;
    const a = DeviceBuffer.allocate(4 * g, { resource: pool });
    const b = DeviceBuffer.allocate(4 * g, { resource: pool });
    assert.equal(pool.stats().growths, 2);
    assert.equal(space.mappings, 8, "each growth mapped as pieces of one granule (4 g ÷ 32 < g)");
    a.free();
    b.free();
    const calls = pool.stats().upstreamCalls;
    const both = DeviceBuffer.allocate(8 * g, { resource: pool });
    assert.equal(pool.stats().upstreamCalls, calls, "served from the two freed mappings");
    assert.equal(space.mappedBytes, 8 * g);
    both.free();
  });

  test("trim unmaps free pieces and keeps live memory intact", (space, pool) => {
    const g = space.granularity;
    const a = DeviceBuffer.allocate(4 * g, { resource: pool });
    const b = DeviceBuffer.allocate(2 * g, { resource: pool, label: "kept" });
    const c = DeviceBuffer.allocate(4 * g, { resource: pool });
    const bytes = randomBytes(2 * g);
    b.copyFromHost(bytes);
    a.free();
    c.free();
    pool.trim(0);
    assert.equal(space.mappedBytes, 2 * g, "only the live piece stays mapped");
    assert.equal(pool.stats().reservedBytes.current, 2 * g);
    assert.deepEqual(b.copyToHost(), bytes);
    // The hole before b is mapped again on demand.
    const again = DeviceBuffer.allocate(3 * g, { resource: pool });
    again.fill(7);
    assert.ok(again.copyToHost().every((x) => x === 7));
    assert.deepEqual(b.copyToHost(), bytes);
    again.free();
    b.free();
    pool.freeCache();
    assert.equal(space.mappedBytes, 0);
    assert.equal(pool.stats().segments.current, 0);
  });

  test("a growth that would raise the peak gives back free pieces first", (space, pool) => {
    const g = space.granularity;
    const big = DeviceBuffer.allocate(32 * g, { resource: pool });
    const kept = DeviceBuffer.allocate(2 * g, { resource: pool, label: "kept" });
    const bytes = randomBytes(2 * g);
    kept.copyFromHost(bytes);
    big.free(); // 32 g free before `kept`, too small for what comes next
    assert.equal(pool.stats().reservedBytes.peak, 34 * g);
    const grown = DeviceBuffer.allocate(40 * g, { resource: pool });
    // Without giving back, 34 g + 40 g; with it, the freed 32 g is unmapped before the 40 g map.
    assert.equal(pool.stats().reservedBytes.peak, 42 * g);
    assert.equal(space.mappedBytes, 42 * g);
    assert.deepEqual(kept.copyToHost(), bytes, "live memory untouched");
    grown.fill(3);
    assert.ok(grown.copyToHost().every((x) => x === 3));
    // The unmapped hole is mapped again on demand, under the same peak once `grown` is gone.
    grown.free();
    const again = DeviceBuffer.allocate(30 * g, { resource: pool });
    again.fill(5);
    assert.ok(again.copyToHost().every((x) => x === 5));
    assert.equal(pool.stats().reservedBytes.peak, 42 * g);
    again.free();
    kept.free();
  });

  test("the limit bounds mapped memory; a refusal changes nothing", (space, pool) => {
    const g = space.granularity;
    pool.limit = 4 * g;
    const held = DeviceBuffer.allocate(3 * g, { resource: pool, label: "held" });
    const before = pool.stats();
    const oom = expectError(
      () => DeviceBuffer.allocate(2 * g, { resource: pool }),
      OutOfMemoryError,
    );
    assert.match(oom.message, /limit of/);
    assert.match(oom.message, /held/);
    assert.equal(pool.stats().reservedBytes.current, before.reservedBytes.current);
    assert.equal(space.mappedBytes, 3 * g);
    const fits = DeviceBuffer.allocate(g / 2, { resource: pool });
    fits.free();
    held.free();
  });
}
