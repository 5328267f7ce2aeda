/** The distance and nearest-neighbour contracts on the cpu device (the CPU build of csrc/knn/). */

import { cpuDevice, kernelLibrary } from "../mod.ts";
import { registerKnnContracts } from "./contracts/knn_contracts.ts";

// Opened once for the process, outside any test: the resource sanitizer checks what tests open.
kernelLibrary("cpu");
registerKnnContracts("cpu knn", () => cpuDevice);
