/** Snapshots of the CUDA pools: segments growing in place over CUDA VMM, blocks tiling them. */

import assert from "node:assert/strict";
import { DeviceBuffer, getMemoryManager, HostBuffer, parseSnapshot } from "../../mod.ts";
import { modelFromSnapshot } from "../../src/viz/viewer_sources.ts";
import { peakLive } from "../../src/viz/viewer_model.ts";
import { gpu, gpuTest } from "./gpu_available.ts";

gpuTest(
  "snapshot: the device and pinned pools, their blocks tiling their segments, read back",
  () => {
    const manager = getMemoryManager();
    const device = gpu();
    const tracker = manager.tracker;
    tracker.startEventLog(4096);
    try {
      const a = DeviceBuffer.allocate(3 << 20, { device, label: "gpu.snap.a" });
      const b = DeviceBuffer.allocate(5000, { device, label: "gpu.snap.b" });
      const pinned = HostBuffer.allocate(1 << 20, { device, label: "gpu.snap.pinned" });
      const text = JSON.stringify(manager.snapshot());
      const snapshot = parseSnapshot(text);
      const pool = snapshot.pools.find((p) => p.device === device.id)!;
      assert.ok(pool !== undefined, "the device's pool is there");
      for (const segment of pool.segments) {
        const tiled = segment.blocks.reduce((sum, block) => sum + block.size, 0);
        assert.equal(tiled, segment.size, `${segment.address}: blocks tile it`);
        assert.match(segment.address, /^0x[0-9a-f]+$/);
      }
      const mapped = pool.segments.reduce((sum, segment) => sum + segment.mappedBytes, 0);
      assert.equal(mapped, pool.stats.reservedBytes.current, "mapped bytes are the reserved ones");
      const labels = pool.segments.flatMap((s) => s.blocks).map((block) => block.label);
      assert.ok(labels.includes("gpu.snap.a") && labels.includes("gpu.snap.b"));
      assert.ok(
        snapshot.pinnedPools.some((p) =>
          p.segments.some((s) => s.blocks.some((block) => block.label === "gpu.snap.pinned"))
        ),
        "the pinned block is in its pool",
      );
      const model = modelFromSnapshot(snapshot, "gpu test");
      assert.ok(peakLive(model).bytes >= (3 << 20) + 5000);
      a.free();
      b.free();
      pinned.free();
    } finally {
      tracker.stopEventLog();
    }
  },
);
