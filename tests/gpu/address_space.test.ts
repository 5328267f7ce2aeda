/** CUDA's virtual memory API: the address-space contracts, and a pool growing in place over it. */

import assert from "node:assert/strict";
import { CudaVirtualMemoryResource, InvalidArgumentError, MemoryPool } from "../../mod.ts";
import { defaultUpstream } from "../../src/memory/default_resources.ts";
import {
  registerAddressSpaceContracts,
  registerGrowingPoolContracts,
} from "../contracts/address_space_contracts.ts";
import { liveOfPool, registerBufferContracts } from "../contracts/buffer_contracts.ts";
import { gpu, gpuIgnoreReason, gpuTest } from "./gpu_available.ts";

let space: CudaVirtualMemoryResource | undefined;
let pool: MemoryPool | undefined;
const vmm = () => (space ??= new CudaVirtualMemoryResource(gpu()));

registerAddressSpaceContracts(
  "gpu cuMemMap",
  () => ({ space: vmm(), backed: true }),
  gpuIgnoreReason,
);
registerGrowingPoolContracts("gpu pool(cuMemMap)", vmm, gpuIgnoreReason);
registerBufferContracts(
  "gpu pool(cuMemMap)",
  () => {
    pool ??= new MemoryPool(vmm());
    return { resource: pool, live: () => liveOfPool(pool!), streamOrdered: false };
  },
  gpuIgnoreReason,
);

gpuTest("the default pool grows in place where the device supports VMM", () => {
  const device = gpu();
  const upstream = defaultUpstream(device);
  assert.equal(
    upstream instanceof CudaVirtualMemoryResource,
    device.capabilities.virtualMemoryManagement,
  );
  assert.equal(vmm().granularity % 4096, 0);
  for (const defaultRangeBytes of [0, -1, 0.5]) {
    assert.throws(
      () => new CudaVirtualMemoryResource(device, { defaultRangeBytes }),
      InvalidArgumentError,
    );
  }
  assert.equal(vmm().defaultRangeBytes >= device.totalMemory, true);
});

// Last in this file: the pool the buffer contracts shared gives everything back (a block still
// live would make close() throw), so the leak check at exit sees nothing of it.
gpuTest("gpu pool(cuMemMap): the shared pool closes with nothing live and nothing mapped", () => {
  pool?.close();
  pool = undefined;
  assert.equal(vmm().mappedBytes, 0, "every suite over this resource unmapped what it mapped");
  assert.equal(vmm().reservedBytes, 0, "and released its ranges");
});
