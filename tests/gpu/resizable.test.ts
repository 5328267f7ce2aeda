/** ResizableBuffer against the CUDA driver: "vmm" over cuMemMap, "copy" over cuMemAlloc blocks. */

import {
  CudaMallocResource,
  CudaVirtualMemoryResource,
  FaultInjectingResource,
  MemoryPool,
} from "../../mod.ts";
import { FaultInjectingAddressSpace } from "../../src/memory/address_space/fault_injecting_address_space.ts";
import { registerResizableContracts } from "../contracts/resizable_contracts.ts";
import { gpu, gpuIgnoreReason } from "./gpu_available.ts";

registerResizableContracts(
  "gpu resizable (vmm over cuMemMap)",
  "vmm",
  () => ({
    pool: new MemoryPool(new CudaVirtualMemoryResource(gpu())),
    flakyPool: (seed) =>
      new MemoryPool(
        new FaultInjectingAddressSpace(new CudaVirtualMemoryResource(gpu()), {
          failRate: 0.5,
          seed,
        }),
      ),
  }),
  gpuIgnoreReason,
);

registerResizableContracts(
  "gpu resizable (copy over cuMemAlloc)",
  "copy",
  () => ({
    pool: new MemoryPool(new CudaMallocResource(gpu())),
    flakyPool: (seed) =>
      new MemoryPool(
        new FaultInjectingResource(new CudaMallocResource(gpu()), { failRate: 0.5, seed }),
      ),
  }),
  gpuIgnoreReason,
);
