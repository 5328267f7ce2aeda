/** The C side and the TypeScript side of the kernel library's ABI agree, name by name. */

import assert from "node:assert/strict";
import { KERNEL_ABI_VERSION, STAGE_CALL_NAMES, STAGE_REPORT } from "../ffi/kernels.ts";
import { SAH_MAX_TRIANGLES } from "../src/kernels/mesh_build.ts";

const csrc = (file: string) => Deno.readTextFileSync(new URL(`../csrc/${file}`, import.meta.url));

Deno.test("abi: GM_ABI_VERSION is the version ffi/kernels.ts binds", () => {
  const version = /#define GM_ABI_VERSION (\d+)/.exec(csrc("gpumem.h"))?.[1];
  assert.equal(Number(version), KERNEL_ABI_VERSION);
});

Deno.test("abi: SAH_MAX_TRIANGLES is GM_SAH_MAX_TRIANGLES (the tests build on both sides of it)", () => {
  const limit = /#define GM_SAH_MAX_TRIANGLES (\d+)u/.exec(csrc("bvh/bvh_sah.h"))?.[1];
  assert.equal(Number(limit), SAH_MAX_TRIANGLES);
});

Deno.test("abi: the stager's driver-call names are GM_STAGE_CALLS, in order", () => {
  const list = /#define GM_STAGE_CALLS\(X\)([\s\S]*?)\n\n/.exec(csrc("staged_copy.h"))?.[1] ?? "";
  const symbols = [...list.matchAll(/X\(\w+, "([^"]*)"\)/g)].map((m) => m[1]);
  assert.ok(symbols.length > 1, "GM_STAGE_CALLS was found");
  assert.deepEqual([...STAGE_CALL_NAMES], symbols);
});

Deno.test("abi: STAGE_REPORT names struct gm_stage_report's words in order", () => {
  const body = /struct gm_stage_report \{([\s\S]*?)\};/.exec(csrc("staged_copy.h"))?.[1] ?? "";
  const fields = [...body.matchAll(/uint64_t (\w+);/g)].map((m) =>
    m[1].replace(/_(\w)/g, (_, c: string) => c.toUpperCase())
  );
  assert.deepEqual(fields, Object.keys(STAGE_REPORT));
  assert.deepEqual(Object.values(STAGE_REPORT), fields.map((_, i) => i));
});
