/** The kernel contracts on the cpu build of csrc/. */

import { cpuDevice, kernelLibrary } from "../mod.ts";
import { registerKernelContracts } from "./contracts/kernel_contracts.ts";
import { registerParticleContracts } from "./contracts/particle_contracts.ts";

// Opened once for the process, outside any test: the resource sanitizer checks what tests open.
kernelLibrary("cpu");
registerKernelContracts("cpu kernels", () => cpuDevice);
registerParticleContracts("cpu particles", () => cpuDevice);
