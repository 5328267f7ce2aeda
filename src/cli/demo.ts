/**
 * `make demo`: what gpumem sees on this machine, and what it measures there.
 *
 * Lists the devices (or says why it runs on the cpu device), allocates and frees through each
 * memory resource, copies both ways, runs a kernel against a CPU reference, times the caching
 * pool, prints the manager's report (pool figures and live buffers by label), grows a
 * ResizableBuffer both ways, builds and queries a mesh BVH (src/cli/mesh_demo.ts), finds the
 * neighbours and features of a LiDAR-like tile (src/cli/knn_demo.ts), and shows that
 * a view cannot outlive its owner. The mesh and kNN runs' memory is logged and written as a
 * snapshot (build/snapshot.json) and the memory viewer (build/memory.html). Run with `deno run --allow-ffi --allow-env --allow-sys --allow-write=build src/cli/demo.ts`.
 *
 * @module
 */

import {
  axpy,
  BufferBatch,
  CudaAsyncResource,
  CudaMallocResource,
  defaultDevice,
  DeviceBuffer,
  DisposedError,
  formatBytes,
  getMemoryManager,
  HostResource,
  listDevices,
  type MemoryDevice,
  type MemoryResource,
  type ResizeStrategy,
  Stream,
} from "../../mod.ts";
import { defaultResource } from "../../src/memory/default_resources.ts";
import { isAddressSpaceResource } from "../../src/memory/address_space/address_space_resource.ts";
import { showKnn } from "./knn_demo.ts";
import { renderViewerPage } from "../viz/viewer_page.ts";
import { modelFromSnapshot } from "../viz/viewer_sources.ts";
import { showMeshBvh } from "./mesh_demo.ts";
import { timeGrowth } from "./resize_timing.ts";
import { timeTransfers, transferTable } from "./transfer_timing.ts";
import { formatTable, microsecondsPerCall } from "./table.ts";

function describeDevices(): void {
  const rows = listDevices().map((device) => {
    const { free, total } = device.memInfo();
    const details = device.kind === "cuda"
      ? `cc ${device.computeCapability.join(".")}, ${device.multiprocessorCount} SMs, VMM ${
        device.capabilities.virtualMemoryManagement ? "yes" : "no"
      }, memory pools ${device.capabilities.memoryPools ? "yes" : "no"}`
      : "host memory behind the device API";
    return [device.id, device.name, formatBytes(free), formatBytes(total), details];
  });
  console.log(formatTable(["device", "name", "free", "total", "details"], rows));
}

function resourcesOf(
  device: MemoryDevice,
  stream: Stream,
): { resource: MemoryResource; stream?: Stream }[] {
  if (device.kind === "cpu") return [{ resource: new HostResource() }];
  const resources: { resource: MemoryResource; stream?: Stream }[] = [
    { resource: new CudaMallocResource(device) },
  ];
  if (device.capabilities.memoryPools) {
    resources.push({
      resource: new CudaAsyncResource(device, { releaseThreshold: 1 << 30 }),
      stream,
    });
  }
  return resources;
}

function measureResources(device: MemoryDevice, stream: Stream): void {
  const rows: string[][] = [];
  for (const { resource, stream: on } of resourcesOf(device, stream)) {
    for (const bytes of [256, 1 << 20, 64 << 20]) {
      const perBatch = resource.name.startsWith("cuMemAlloc(") ? 20 : 200;
      const us = microsecondsPerCall(() => {
        const address = resource.allocate(bytes, on);
        resource.deallocate(address, bytes, on);
      }, perBatch);
      on?.synchronize();
      rows.push([resource.name, formatBytes(bytes), us.toFixed(3)]);
    }
  }
  console.log(`\nAllocate + free round trips on ${device.id} (median):`);
  console.log(formatTable(["resource", "size", "µs"], rows));
}

function measureCopies(device: MemoryDevice): void {
  const bytes = 64 << 20;
  const host = new Uint8Array(bytes).fill(7);
  using a = DeviceBuffer.allocate(bytes, { device, label: "demo.copy.a" });
  using b = DeviceBuffer.allocate(bytes, { device, label: "demo.copy.b" });
  const gbps = (body: () => void, bytesMoved: number) =>
    bytesMoved / (microsecondsPerCall(body, 3, 5) * 1e3);
  a.copyFromHost(host);
  const rows = [
    ["device → device (read + write)", gbps(() => b.copyFrom(a), 2 * bytes).toFixed(1)],
  ];
  console.log(`\nCopies of ${formatBytes(bytes)} on ${device.id}:`);
  console.log(formatTable(["copy", "GB/s"], rows));
}

async function showTransfers(device: MemoryDevice): Promise<void> {
  const rows = await timeTransfers(device, [4 << 20, 64 << 20]);
  console.log(
    `\nHost ↔ ${device.id} transfers, GB/s (pageable: the driver's path; staged: TransferPipeline;` +
      `\npinned: a HostBuffer; registered: registerHost on the pageable array):`,
  );
  console.log(transferTable(rows));
}

function checkKernel(device: MemoryDevice): void {
  const n = 1 << 20;
  const x = Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
  const y = Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
  const a = Math.random() * 4 - 2;
  using dx = DeviceBuffer.fromHost(x, { device, label: "demo.axpy.x" });
  using dy = DeviceBuffer.fromHost(y, { device, label: "demo.axpy.y" });
  axpy(a, dx.typed(Float32Array), dy.typed(Float32Array));
  const result = dy.typed(Float32Array).copyToHost();
  const a32 = Math.fround(a); // the kernel takes a float
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const reference = a32 * x[i] + y[i]; // float64
    const scale = Math.abs(a32 * x[i]) + Math.abs(y[i]);
    worst = Math.max(worst, Math.abs(result[i] - reference) / scale);
  }
  console.log(
    `\nKernel library on ${device.id}: axpy over ${n} floats, largest relative error against a ` +
      `float64 reference ${worst.toExponential(2)} (one float32 rounding: 6.0e-8)`,
  );
}

function showPoolAndTracker(device: MemoryDevice): void {
  const manager = getMemoryManager(); // from here on every buffer is counted by label
  const pool = manager.pool(device);
  const rows = [256, 1 << 20, 64 << 20].map((bytes) => {
    const roundTrip = () => DeviceBuffer.allocate(bytes, { device }).free();
    microsecondsPerCall(roundTrip, 2000); // a first pass lets V8 optimise the path
    const us = microsecondsPerCall(roundTrip, 2000);
    return [formatBytes(bytes), us.toFixed(3)];
  });
  console.log(
    `\nCached allocate + free through ${pool.name} over ${pool.upstream.name} (DeviceBuffer and ` +
      "tracker included, median):",
  );
  console.log(formatTable(["size", "µs"], rows));
  using batch = new BufferBatch({ device });
  for (let i = 0; i < 3; i++) batch.allocate(4 << 20, { label: "demo.mesh.vertices" });
  batch.allocate(1 << 20, { label: "demo.bvh.nodes" });
  batch.allocate(300, { label: "demo.params" });
  console.log(`\n${manager.report()}`);
  const stats = pool.stats();
  console.log(
    `  cache hits ${stats.cacheHits}, misses ${stats.cacheMisses}, upstream calls ${stats.upstreamCalls}, ` +
      `peak allocated ${formatBytes(stats.allocatedBytes.peak)}`,
  );
}

/** Writes build/snapshot.json and build/memory.html (the viewer) of the run so far. */
async function writeMemoryViewer(): Promise<void> {
  const snapshot = getMemoryManager().snapshot();
  await Deno.mkdir("build", { recursive: true });
  await Deno.writeTextFile("build/snapshot.json", JSON.stringify(snapshot));
  const page = await renderViewerPage(modelFromSnapshot(snapshot, "make demo"));
  await Deno.writeTextFile("build/memory.html", page);
  console.log(
    `\nThe memory of the mesh and kNN runs (${snapshot.timeline?.op.length ?? 0} events): ` +
      "build/memory.html (open it in a browser; from build/snapshot.json, as " +
      "`deno task viz build/snapshot.json -o build/memory.html` makes it)",
  );
}

function showOwnership(device: MemoryDevice): void {
  const owner = DeviceBuffer.allocate(1024, { device, label: "demo.owner" });
  const view = owner.view(256, 512);
  owner.free();
  try {
    view.copyToHost();
    console.log("\nOwnership: a view outlived its owner (this is a bug)");
  } catch (error) {
    if (!(error instanceof DisposedError)) throw error;
    console.log(
      `\nOwnership: a view used after its owner's free() throws ${error.name}:\n  ${error.message}`,
    );
  }
}

function showResizing(device: MemoryDevice): void {
  const pool = defaultResource(device);
  const from = device.kind === "cpu" ? 16 << 20 : 256 << 20;
  const rows: string[][] = [];
  const strategies: ResizeStrategy[] = isAddressSpaceResource(pool.upstream)
    ? ["vmm", "copy"]
    : ["copy"];
  for (const strategy of strategies) {
    const timing = timeGrowth(pool, strategy, from, 2 * from, { warm: strategy === "copy" });
    rows.push([strategy, `${formatBytes(from)} → ${formatBytes(2 * from)}`, timing.ms.toFixed(3)]);
  }
  console.log(
    `\nA ResizableBuffer growing on ${device.id} (vmm: in place; copy: new block + copy):`,
  );
  console.log(formatTable(["strategy", "growth", "ms"], rows));
}

if (import.meta.main) {
  console.log("gpumem demo\n");
  const device = defaultDevice(); // says once, on stderr, why it falls back to the cpu device
  describeDevices();
  using stream = new Stream(device);
  measureResources(device, stream);
  measureCopies(device);
  await showTransfers(device);
  checkKernel(device);
  // The kernels' memory goes into an event log, then a snapshot and the viewer page.
  const tracker = getMemoryManager().tracker;
  tracker.startEventLog(1 << 20);
  tracker.sites = "on";
  await showMeshBvh(device);
  await showKnn(device);
  await writeMemoryViewer();
  tracker.sites = "off";
  tracker.stopEventLog();
  showPoolAndTracker(device);
  showResizing(device);
  showOwnership(device);
}
