/** The library's modules import one another without cycles (type-only imports aside). */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(join(root, dir))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...sources(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

/** The modules `file` imports at run time (relative specifiers; `import type` left out). */
function runtimeImports(file: string): string[] {
  const text = Deno.readTextFileSync(join(root, file));
  const deps: string[] = [];
  const statement = /^(import|export)\s+(type\s+)?([^;]*?)\s+from\s+"(\.[^"]+)"/gms;
  for (const [, , typeOnly, clause, specifier] of text.matchAll(statement)) {
    if (typeOnly !== undefined) continue;
    const names = /^\{([^}]*)\}$/s.exec(clause.trim())?.[1];
    if (names !== undefined && names.split(",").every((n) => /^\s*(type\s|$)/.test(n))) continue;
    deps.push(normalize(join(dirname(file), specifier)));
  }
  return deps;
}

Deno.test("imports: no module of src/, ffi/ or mod.ts imports itself through others", () => {
  const files = ["mod.ts", ...sources("src"), ...sources("ffi")];
  const graph = new Map(files.map((file) => [file, runtimeImports(file)]));
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const cycles: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    path.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (state.get(dep) === "open") {
        cycles.push([...path.slice(path.indexOf(dep)), dep].join(" → "));
      } else if (!state.has(dep)) visit(dep);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of files) if (!state.has(file)) visit(file);
  assert.ok(graph.size > 100, `read ${graph.size} modules`);
  assert.deepEqual(cycles.map((c) => relative(".", c)), [], "import cycles");
});
