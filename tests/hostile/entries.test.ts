/**
 * Every public entry fed what a hostile (or careless) user passes: each case must throw (or
 * reject with) a typed gpumem error, and leave the cpu device's pool and the tracker exactly as
 * they were. Cases that could crash the process run in a subprocess (tests/hostile/crash.test.ts).
 */

import assert from "node:assert/strict";
import {
  BufferBatch,
  cpuDevice,
  cudaAvailability,
  DeviceBuffer,
  deviceByName,
  Event,
  FaultInjectingResource,
  getMemoryManager,
  GpumemError,
  HostBuffer,
  HostResource,
  kernelLibrary,
  MemoryPool,
  MemoryTracker,
  MeshBvh,
  parseSnapshot,
  Readback,
  registerHost,
  replayTrace,
  ResizableBuffer,
  stepParticles,
  Stream,
  TransferPipeline,
} from "../../mod.ts";
import { parseByteLimit } from "../../src/memory/limit.ts";

// Opened outside any test: the resource sanitizer checks what tests open, and on a GPU host
// entries without a device option reach the CUDA build.
kernelLibrary("cpu");
if (cudaAvailability().usable) {
  try {
    kernelLibrary("cuda");
  } catch {
    // Not built: the entries that need it fail with their own typed error.
  }
}

type Case = [name: string, call: () => unknown];

const bad = [-1, 1.5, NaN, Infinity, "8", 2 ** 60, null, {}, [], true] as unknown[];
const badOptions = [null, 5, "options", () => {}] as unknown[];

function cases(): Case[] {
  const list: Case[] = [];
  const add = (name: string, call: () => unknown) => list.push([name, call]);
  const buffer = () => DeviceBuffer.allocate(64, { device: cpuDevice });
  for (const b of bad) {
    add(
      `DeviceBuffer.allocate(${String(b)})`,
      () => DeviceBuffer.allocate(b as never, { device: cpuDevice }),
    );
  }
  for (const o of badOptions) {
    add(`DeviceBuffer.allocate(8, ${String(o)})`, () => DeviceBuffer.allocate(8, o as never));
  }
  add(
    "allocate: label 5",
    () => DeviceBuffer.allocate(8, { device: cpuDevice, label: 5 as never }),
  );
  add("allocate: device {}", () => DeviceBuffer.allocate(8, { device: {} as never }));
  add("allocate: resource {}", () => DeviceBuffer.allocate(8, { resource: {} as never }));
  add(
    "allocate: stream {}",
    () => DeviceBuffer.allocate(8, { device: cpuDevice, stream: {} as never }),
  );
  for (const d of [[], "x", {}, null, 5, new ArrayBuffer(8)]) {
    add(
      `DeviceBuffer.fromHost(${String(d)})`,
      () => DeviceBuffer.fromHost(d as never, { device: cpuDevice }),
    );
  }
  for (
    const [offset, length] of [[-1, 1], [0, 65], [65, 0], [1.5, 1], [NaN, 1], [0, -1], ["1", 1]]
  ) {
    add(`view(${offset}, ${length})`, () => {
      using b = buffer();
      return b.view(offset as never, length as never);
    });
  }
  for (const t of [Array, Object, null, DataView, "Float32Array"]) {
    add(`typed(${String(t)})`, () => {
      using b = DeviceBuffer.allocate(63, { device: cpuDevice });
      return b.typed(t as never);
    });
  }
  add("typed(Float32Array, 0, 16) of 63 bytes", () => {
    using b = DeviceBuffer.allocate(63, { device: cpuDevice });
    return b.typed(Float32Array, 0, 16);
  });
  for (const v of [256, -1, 1.5, NaN, "1"]) {
    add(`fill(${String(v)})`, () => {
      using b = buffer();
      b.fill(v as never);
    });
  }
  add("fill past the end", () => {
    using b = buffer();
    b.fill(0, 60, 8);
  });
  add("copyFromHost past the end", () => {
    using b = buffer();
    b.copyFromHost(new Uint8Array(65));
  });
  add("copyFromHost(string)", () => {
    using b = buffer();
    b.copyFromHost("bytes" as never);
  });
  add("copyToHost target too long", () => {
    using b = buffer();
    b.copyToHost(new Uint8Array(65));
  });
  add("copyFrom(non-buffer)", () => {
    using b = buffer();
    b.copyFrom({} as never);
  });
  add("copyFrom overlapping", () => {
    using b = buffer();
    b.copyFrom(b.view(0, 32), 16);
  });
  add("recordStream({})", () => {
    using b = buffer();
    b.recordStream({} as never);
  });
  add("use after free", () => {
    const b = buffer();
    b.free();
    return b.ptr;
  });
  add("a view after its owner's free", () => {
    const b = buffer();
    const v = b.view(0, 8);
    b.free();
    v.copyToHost();
  });
  for (const d of [null, {}, 5, "cpu"]) {
    add(`new Stream(${String(d)})`, () => new Stream(d as never));
  }
  for (const d of [null, {}, 5]) add(`new Event(${String(d)})`, () => new Event(d as never));
  for (const u of [null, {}, 5]) {
    add(`new MemoryPool(${String(u)})`, () => new MemoryPool(u as never));
  }
  for (
    const o of [
      { limit: "abc" },
      { limit: -1 },
      { limit: "200%" },
      { limit: "10XB" },
      { name: 5 },
      { expandableSegments: "yes" },
    ]
  ) {
    add(
      `new MemoryPool(host, ${JSON.stringify(o)})`,
      () => new MemoryPool(new HostResource(), o as never),
    );
  }
  for (const l of ["abc", "10XB", -5, "", "%", "200%", "1.5.5GiB", NaN, {}, "-1GiB"]) {
    add(`parseByteLimit(${String(l)})`, () => parseByteLimit(l as never, 1 << 30));
  }
  for (const o of badOptions) {
    add(`new BufferBatch(${String(o)})`, () => new BufferBatch(o as never));
  }
  add("batch.release(foreign)", () => {
    using batch = new BufferBatch({ device: cpuDevice });
    using b = buffer();
    batch.release(b);
  });
  add("batch.allocate after dispose", () => {
    const batch = new BufferBatch({ device: cpuDevice });
    batch[Symbol.dispose]();
    batch.allocate(8);
  });
  for (const b of [-1, 1.5, NaN, "8"]) {
    add(
      `ResizableBuffer.create(${String(b)})`,
      () => ResizableBuffer.create(b as never, { device: cpuDevice }),
    );
  }
  for (const o of [{ strategy: "x" }, { growth: "x" }, { maxBytes: -1 }, { maxBytes: 8 }]) {
    add(
      `ResizableBuffer.create(64, ${JSON.stringify(o)})`,
      () => ResizableBuffer.create(64, { device: cpuDevice, ...o } as never),
    );
  }
  add("resize past maxBytes", () => {
    using r = ResizableBuffer.create(8, { device: cpuDevice, maxBytes: 64 << 20 });
    r.resize((64 << 20) + 1);
  });
  for (const b of [0, -1, 1.5, NaN, "8"]) {
    add(
      `HostBuffer.allocate(${String(b)})`,
      () => HostBuffer.allocate(b as never, { device: cpuDevice }),
    );
  }
  for (const o of badOptions) {
    add(`HostBuffer.allocate(8, ${String(o)})`, () => HostBuffer.allocate(8, o as never));
  }
  for (const a of [null, {}, new Uint8Array(0), "x"]) {
    add(`registerHost(${String(a)})`, () => registerHost(a as never, { device: cpuDevice }));
  }
  for (
    const o of [{ chunkBytes: 0 }, { hostThreads: 0 }, { hostThreads: 257 }, { directBelow: -1 }, {
      offThreadFrom: NaN,
    }]
  ) {
    add(
      `new TransferPipeline(${JSON.stringify(o)})`,
      () => new TransferPipeline({ device: cpuDevice, ...o }),
    );
  }
  for (
    const o of [{ sites: "sometimes" }, { sites: { sample: 0 } }, { eventCapacity: -1 }, {
      timestamps: "yes",
    }]
  ) {
    add(`new MemoryTracker(${JSON.stringify(o)})`, () => new MemoryTracker(o as never));
  }
  for (const o of badOptions) {
    add(`new MemoryTracker(${String(o)})`, () => new MemoryTracker(o as never));
  }
  add("tracker.scope(5)", () => new MemoryTracker().scope(5 as never));
  for (const t of [null, {}, { events: "x" }, { events: [{ op: "alloc", size: -1 }] }]) {
    add(
      `replayTrace(${JSON.stringify(t)})`,
      () => replayTrace(t as never, new MemoryPool(new HostResource())),
    );
  }
  for (const b of [-1, NaN, "8"]) {
    add(`canAllocate(${String(b)})`, () => getMemoryManager().canAllocate(b as never, cpuDevice));
  }
  for (const d of [{}, 5, "cpu"]) {
    add(`manager.pool(${String(d)})`, () => getMemoryManager().pool(d as never));
  }
  for (const n of ["nope", "cuda:-1", "cuda:x", "", 5]) {
    add(`deviceByName(${String(n)})`, () => deviceByName(n as never));
  }
  for (
    const o of [{ failRate: 2 }, { failRate: -1 }, { failEvery: -1 }, { failEvery: 1.5 }, null]
  ) {
    add(
      `new FaultInjectingResource(host, ${JSON.stringify(o)})`,
      () => new FaultInjectingResource(new HostResource(), o as never),
    );
  }
  add(
    "MeshBvh.build(null, null)",
    () => MeshBvh.build(null as never, null as never, { device: cpuDevice }),
  );
  add("MeshBvh.build with a freed view", () => {
    const b = DeviceBuffer.fromHost(new Float32Array(9), { device: cpuDevice });
    const view = b.typed(Float32Array);
    b.free();
    return MeshBvh.build(view, new Uint32Array([0, 1, 2]), { device: cpuDevice });
  });
  const triangle = () =>
    MeshBvh.build(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]), new Uint32Array([0, 1, 2]), {
      device: cpuDevice,
    });
  const queries: [string, (bvh: MeshBvh) => unknown][] = [
    ["closestPoints(null)", (b) => b.closestPoints(null as never)],
    ["closestPoints(Int32Array)", (b) => b.closestPoints(new Int32Array(3) as never)],
    ["closestPoints(length 4)", (b) => b.closestPoints(new Float32Array(4))],
    ["closestPoints(Infinity)", (b) => b.closestPoints(new Float64Array([0, Infinity, 0]))],
    ["closestPoints(options 5)", (b) => b.closestPoints(new Float32Array(3), 5 as never)],
    [
      "closestPoints(maxDistance NaN)",
      (b) => b.closestPoints(new Float32Array(3), { maxDistance: NaN }),
    ],
    [
      "closestPoints(maxDistance '1')",
      (b) => b.closestPoints(new Float32Array(3), { maxDistance: "1" as never }),
    ],
    ["signedDistance(sign 5)", (b) => b.signedDistance(new Float32Array(3), { sign: 5 as never })],
    ["signedDistance(null options)", (b) => b.signedDistance(new Float32Array(3), null as never)],
    ["rayCast(null, null)", (b) => b.rayCast(null as never, null as never)],
    ["rayCast(tMax -1)", (b) => b.rayCast(new Float32Array(3), new Float32Array(3), { tMax: -1 })],
    [
      "rayCast(NaN direction)",
      (b) => b.rayCast(new Float32Array(3), new Float32Array([NaN, 0, 0])),
    ],
    ["refit(null)", (b) => b.refit(null as never)],
    ["refit(Uint8Array)", (b) => b.refit(new Uint8Array(9) as never)],
    ["closestPoints after free", (b) => {
      b.free();
      return b.closestPoints(new Float32Array(3));
    }],
  ];
  for (const [name, query] of queries) {
    add(`MeshBvh.${name}`, async () => {
      using bvh = await triangle();
      return await query(bvh);
    });
  }
  for (const leafSize of [0, 65, 1.5, "4"]) {
    add(
      `MeshBvh.build(leafSize ${String(leafSize)})`,
      () =>
        MeshBvh.build(new Float32Array(9), new Uint32Array([0, 1, 2]), {
          device: cpuDevice,
          leafSize: leafSize as never,
        }),
    );
  }
  add(
    "MeshBvh.build(stream {})",
    () =>
      MeshBvh.build(new Float32Array(9), new Uint32Array([0, 1, 2]), {
        device: cpuDevice,
        stream: {} as never,
      }),
  );
  // The readback ring, the particle step, snapshots (this session's entries).
  for (const o of [...badOptions, { slots: 1 }, { slots: 17 }, { slots: 2.5 }, { label: 5 }]) {
    add(`new Readback(buffer, ${JSON.stringify(o) ?? String(o)})`, () => {
      using b = buffer();
      return new Readback(b, o as never);
    });
  }
  for (const s of [{}, "stream", 5]) {
    add(`readback.frame(${JSON.stringify(s)})`, () => {
      using b = buffer();
      using ring = new Readback(b);
      return ring.frame(s as never);
    });
  }
  add("new Readback(freed buffer)", () => {
    const b = buffer();
    b.free();
    return new Readback(b);
  });
  add("new Readback({})", () => new Readback({} as never));
  for (const o of [{ dt: -1 }, { dt: "1" }, { substeps: 0 }, { substeps: 1e9 }, { time: NaN }]) {
    add(`stepParticles(${JSON.stringify(o)})`, () => {
      using p = DeviceBuffer.allocate(12, { device: cpuDevice });
      using v = DeviceBuffer.allocate(12, { device: cpuDevice });
      stepParticles(p.typed(Float32Array), v.typed(Float32Array), o as never);
    });
  }
  add("stepParticles(non-views)", () => stepParticles({} as never, {} as never));
  add("stepParticles(stream without a prototype)", () => {
    using p = DeviceBuffer.allocate(12, { device: cpuDevice });
    using v = DeviceBuffer.allocate(12, { device: cpuDevice });
    stepParticles(p.typed(Float32Array), v.typed(Float32Array), {
      stream: Object.create(null) as never,
    });
  });
  for (const text of ["", "[]", "{}", '{"format":"gpumem-snapshot","version":1}', "nul"]) {
    add(`parseSnapshot(${JSON.stringify(text)})`, () => parseSnapshot(text));
  }
  return list;
}

function snapshot() {
  const stats = getMemoryManager().pool(cpuDevice).stats();
  return {
    allocated: stats.allocatedBytes.current,
    live: getMemoryManager().tracker.live().length,
  };
}

Deno.test("hostile: every public entry rejects bad input with a typed error and changes nothing", async () => {
  const all = cases();
  const wrong: string[] = [];
  for (const [name, call] of all) {
    const before = snapshot();
    let error: unknown;
    try {
      await call();
    } catch (caught) {
      error = caught;
    }
    if (!(error instanceof GpumemError)) {
      wrong.push(
        `${name}: ${
          error === undefined
            ? "accepted"
            : `${(error as Error)?.name}: ${(error as Error)?.message}`
        }`,
      );
    }
    const after = snapshot();
    if (after.allocated !== before.allocated || after.live !== before.live) {
      wrong.push(`${name}: state changed ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
    }
  }
  assert.deepEqual(wrong, [], `${wrong.length} of ${all.length} cases:\n  ${wrong.join("\n  ")}`);
  assert.ok(all.length >= 150, `${all.length} cases`);
});

Deno.test("hostile: readTrace of what is not a trace (empty, not JSON, null, corrupt gzip) is a GpumemError", async () => {
  const { readTrace } = await import("../../src/replay/trace.ts");
  const contents: [string, Uint8Array][] = [
    [".json", new Uint8Array()],
    [".json", new TextEncoder().encode("{not json")],
    [".json", new TextEncoder().encode("null")],
    [".json", new TextEncoder().encode('{"events": 3, "peak_live": 1}')],
    [".json.gz", Uint8Array.of(0x1f, 0x8b, 8, 0, 1, 2, 3, 4)],
  ];
  for (const [suffix, bytes] of contents) {
    const path = await Deno.makeTempFile({ dir: "build", suffix });
    try {
      await Deno.writeFile(path, bytes);
      await assert.rejects(readTrace(path), GpumemError, `${bytes.length} bytes as ${suffix}`);
    } finally {
      await Deno.remove(path);
    }
  }
});
