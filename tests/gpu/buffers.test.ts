/** The DeviceBuffer contracts on the real driver: cuMemAlloc and cuMemAllocAsync. */

import { CudaAsyncResource, CudaMallocResource } from "../../mod.ts";
import { registerBufferContracts } from "../contracts/buffer_contracts.ts";
import { gpu, gpuIgnoreReason } from "./gpu_available.ts";

let malloc: CudaMallocResource | undefined;
let async: CudaAsyncResource | undefined;

registerBufferContracts(
  "gpu cuMemAlloc",
  () => ({ resource: malloc ??= new CudaMallocResource(gpu()), streamOrdered: false }),
  gpuIgnoreReason,
);
registerBufferContracts(
  "gpu cuMemAllocAsync",
  () => ({ resource: async ??= new CudaAsyncResource(gpu()), streamOrdered: true }),
  gpuIgnoreReason,
);
