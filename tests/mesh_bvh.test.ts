/** The MeshBvh contracts on the cpu device (the CPU build of csrc/bvh/). */

import { cpuDevice, kernelLibrary } from "../mod.ts";
import { registerMeshContracts } from "./contracts/mesh_contracts.ts";

// Opened once for the process, outside any test: the resource sanitizer checks what tests open.
kernelLibrary("cpu");
registerMeshContracts("cpu mesh bvh", () => cpuDevice);
