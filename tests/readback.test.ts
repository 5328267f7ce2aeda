/** The readback ring's contracts on the cpu device. */

import { cpuDevice } from "../mod.ts";
import { registerReadbackContracts } from "./contracts/readback_contracts.ts";

registerReadbackContracts("cpu readback", () => cpuDevice);
