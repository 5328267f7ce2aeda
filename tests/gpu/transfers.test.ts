/** The transfer contracts against the CUDA driver, and copies between two GPUs where there are. */

import assert from "node:assert/strict";
import {
  cudaAvailability,
  Device,
  DeviceBuffer,
  InvalidArgumentError,
  PinnedHostResource,
  Stream,
} from "../../mod.ts";
import { expectError } from "../contracts/expect_error.ts";
import { randomBytes } from "../contracts/random.ts";
import { registerTransferContracts } from "../contracts/transfer_contracts.ts";
import { cudaKernelIgnoreReason, gpu, gpuIgnoreReason, shortReason } from "./gpu_available.ts";

registerTransferContracts(
  "gpu transfers",
  () => ({ device: gpu(), asyncDma: true }),
  cudaKernelIgnoreReason,
);

const ignore = gpuIgnoreReason === undefined ? undefined : shortReason(gpuIgnoreReason);
const cuda = cudaAvailability();
const peerIgnore = ignore ??
  (cuda.usable && cuda.count < 2 ? "one CUDA device here: peer copies need two" : undefined);

Deno.test({
  name: `gpu PinnedHostResource: pinned memory comes and goes, foreign frees are typed errors${
    ignore ? ` (ignored: ${ignore})` : ""
  }`,
  ignore: ignore !== undefined,
  fn() {
    const pinned = new PinnedHostResource(gpu());
    const address = pinned.allocate(1 << 20);
    assert.notEqual(address, 0n);
    const view = new Uint8Array(
      Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(address)!, 1 << 20),
    );
    view.fill(9); // host-writable memory
    expectError(() => pinned.deallocate(address + 4096n, 1 << 20), InvalidArgumentError);
    expectError(() => pinned.deallocate(address, 1 << 19), InvalidArgumentError);
    pinned.deallocate(address, 1 << 20);
    expectError(() => pinned.deallocate(address, 1 << 20), InvalidArgumentError);
    assert.equal(pinned.live.count, 0);
    assert.ok(pinned.memInfo().total > 0);
  },
});

Deno.test({
  name: `gpu peers: a device is not its own peer; bad peers are typed errors${
    ignore ? ` (ignored: ${ignore})` : ""
  }`,
  ignore: ignore !== undefined,
  fn() {
    const device = gpu();
    assert.equal(device.canAccessPeer(device), false);
    expectError(() => device.canAccessPeer({} as Device), InvalidArgumentError);
    expectError(() => device.enablePeerAccess(null as unknown as Device), InvalidArgumentError);
  },
});

Deno.test({
  name: `gpu peers: copies between two devices land exactly, with and without peer access${
    peerIgnore ? ` (ignored: ${peerIgnore})` : ""
  }`,
  ignore: peerIgnore !== undefined,
  async fn() {
    const [a, b] = [Device.get(0), Device.get(1)];
    for (const enable of [false, true]) {
      if (enable) {
        const ab = a.enablePeerAccess(b);
        const ba = b.enablePeerAccess(a);
        assert.equal(ab, a.canAccessPeer(b));
        assert.equal(ba, b.canAccessPeer(a));
        assert.equal(a.enablePeerAccess(b), ab, "idempotent");
      }
      const data = randomBytes(24 << 20);
      using source = DeviceBuffer.fromHost(data, { device: a });
      using target = DeviceBuffer.allocate(data.byteLength + 512, { device: b });
      target.fill(0xab);
      target.copyFrom(source, 256);
      const back = target.copyToHost();
      assert.deepEqual(back.subarray(256, 256 + data.byteLength), data);
      assert.ok(back.subarray(0, 256).every((x) => x === 0xab));
      using stream = new Stream(b);
      using streamA = new Stream(a);
      using returned = DeviceBuffer.allocate(data.byteLength, { device: a });
      returned.fill(0);
      await returned.copyFromAsync(target.view(256, data.byteLength), streamA);
      assert.deepEqual(returned.copyToHost(), data);
      target.fill(0);
      await target.copyFromAsync(source, stream, 512);
      assert.deepEqual(target.view(512).copyToHost(), data);
    }
  },
});
