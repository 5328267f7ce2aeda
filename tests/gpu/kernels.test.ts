/** The kernel contracts on the CUDA build of csrc/, sharing memory with the driver binding. */

import { registerKernelContracts } from "../contracts/kernel_contracts.ts";
import { registerParticleContracts } from "../contracts/particle_contracts.ts";
import { cudaKernelIgnoreReason, gpu } from "./gpu_available.ts";

registerKernelContracts("gpu kernels", gpu, cudaKernelIgnoreReason);
registerParticleContracts("gpu particles", gpu, cudaKernelIgnoreReason);
