/** The crash cases (crash_cases.ts), each in a process of its own: a crash fails only its case. */

import assert from "node:assert/strict";
import { CASES } from "./crash_cases.ts";

const script = new URL("./crash_cases.ts", import.meta.url).pathname;

for (const name of Object.keys(CASES)) {
  Deno.test(`hostile (own process): ${name}`, async () => {
    const { code, signal, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "--allow-env", "--allow-sys", script, name],
      env: { GPUMEM_DEVICE: "cpu" },
    }).output();
    const out = new TextDecoder().decode(stdout), err = new TextDecoder().decode(stderr);
    assert.equal(signal, null, `killed by ${signal}: ${err}`);
    assert.equal(code, 0, err);
    assert.match(out, new RegExp(`survived ${name}`));
  });
}
