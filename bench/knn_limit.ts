/**
 * The same self-kNN (k = 20, host arrays in and out) under the manager's limit as without it:
 * run once plainly and once in a subprocess with GPUMEM_LIMIT set, compare the answers, print
 * what planKnnPoints planned and how long each took.
 *
 *   deno run -A bench/knn_limit.ts TILE.f64 [LIMIT]      (LIMIT default 1GiB)
 */

import { knnPoints, planKnnPoints } from "../mod.ts";

const [tile, limit = "1GiB"] = Deno.args;
const points = new Float64Array(Deno.readFileSync(tile).buffer);
const n = points.length / 3;
const start = performance.now();
const { indices } = await knnPoints(points, 20);
const ms = performance.now() - start;
const digest = async (a: Int32Array) =>
  Array.from(
    new Uint8Array(
      await crypto.subtle.digest(
        "SHA-256",
        new Uint8Array(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength),
      ),
    ),
  ).slice(0, 8).map((b) => b.toString(16).padStart(2, "0")).join("");
if (Deno.env.get("GPUMEM_LIMIT") !== undefined) {
  console.log(
    JSON.stringify({
      limit: Deno.env.get("GPUMEM_LIMIT"),
      points: n,
      ms,
      plan: planKnnPoints(n, 20),
      digest: await digest(indices),
    }),
  );
} else {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, tile],
    env: { GPUMEM_LIMIT: limit },
  }).output();
  const text = new TextDecoder().decode(child.stdout).trim();
  console.log(`unlimited: ${n} points in ${ms.toFixed(0)} ms, digest ${await digest(indices)}`);
  console.log(
    `under ${limit}: ${
      text || new TextDecoder().decode(child.stderr).split("\n").slice(0, 4).join(" | ")
    }`,
  );
}
