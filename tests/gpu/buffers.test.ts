/** The DeviceBuffer contracts on the real driver: cuMemAlloc and cuMemAllocAsync. */

import { CudaAsyncResource, CudaMallocResource, MemoryPool } from "../../mod.ts";
import { liveOf, liveOfPool, registerBufferContracts } from "../contracts/buffer_contracts.ts";
import { gpu, gpuIgnoreReason, gpuTest } from "./gpu_available.ts";

let malloc: CudaMallocResource | undefined;
let async: CudaAsyncResource | undefined;
let pool: MemoryPool | undefined;

registerBufferContracts(
  "gpu cuMemAlloc",
  () => {
    malloc ??= new CudaMallocResource(gpu());
    return { resource: malloc, live: () => liveOf(malloc!.live), streamOrdered: false };
  },
  gpuIgnoreReason,
);
registerBufferContracts(
  "gpu cuMemAllocAsync",
  () => {
    async ??= new CudaAsyncResource(gpu());
    return { resource: async, live: () => liveOf(async!.live), streamOrdered: true };
  },
  gpuIgnoreReason,
);
registerBufferContracts(
  "gpu pool(cuMemAlloc)",
  () => {
    pool ??= new MemoryPool(new CudaMallocResource(gpu()));
    return {
      resource: pool,
      live: () => liveOfPool(pool!),
      streamOrdered: false,
    };
  },
  gpuIgnoreReason,
);

// Last in this file: the pool the contracts shared gives its cached segments back (a block still
// live would make close() throw), so the leak check at exit sees nothing of it.
gpuTest("gpu pool(cuMemAlloc): the shared pool closes with nothing live", () => {
  pool?.close();
  pool = undefined;
});
