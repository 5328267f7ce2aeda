/** The readback ring's contracts against the CUDA driver. */

import { registerReadbackContracts } from "../contracts/readback_contracts.ts";
import { gpu, gpuIgnoreReason } from "./gpu_available.ts";

registerReadbackContracts("gpu readback", gpu, gpuIgnoreReason);
