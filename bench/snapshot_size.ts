/**
 * How long a snapshot of a busy pool takes and how large it is: a pool over a virtual upstream
 * with 100,000 blocks (every other one allocated, labelled), snapshotted, serialised with
 * JSON.stringify and read back with parseSnapshot. Prints a table; writes build/snapshot_size.json.
 *
 *     deno run -A bench/snapshot_size.ts [blocks]
 *
 * @module
 */

import { MemoryPool, parseSnapshot } from "../mod.ts";
import type { Block } from "../src/memory/pool/block.ts";
import { VirtualResource } from "../src/memory/virtual_resource.ts";
import { medianMs } from "./median.ts";

const blocks = Number(Deno.args[0] ?? 100_000);
const pool = new MemoryPool(new VirtualResource(), { name: "busy" });
const held: Block[] = [];
for (let i = 0; i < blocks; i++) {
  held.push(pool.allocateBlock(4096 + 512 * (i % 64), undefined, `layer${i % 40}`));
}
for (let i = 0; i < held.length; i += 2) pool.deallocateBlock(held[i]); // free every other: no merging
let text = "";
const snapshotMs = await medianMs(5, () => Promise.resolve(pool.snapshot()));
const stringifyMs = await medianMs(
  5,
  () => Promise.resolve(text = JSON.stringify(pool.snapshot())),
);
const wrapped = JSON.stringify({
  format: "gpumem-snapshot",
  version: 1,
  taken: new Date().toISOString(),
  now: 0,
  devices: [],
  pools: [JSON.parse(text)],
  pinnedPools: [],
  live: [],
  timeline: null,
});
const parseMs = await medianMs(5, () => Promise.resolve(parseSnapshot(wrapped)));
const counted = pool.snapshot().segments.reduce((n, segment) => n + segment.blocks.length, 0);
const result = {
  blocks: counted,
  bytes: text.length,
  snapshotMs,
  snapshotAndStringifyMs: stringifyMs,
  parseMs,
};
await Deno.mkdir("build", { recursive: true });
await Deno.writeTextFile("build/snapshot_size.json", JSON.stringify(result, null, 2));
console.log(
  `snapshot of a pool with ${counted} blocks: ${(text.length / 2 ** 20).toFixed(1)} MiB of JSON; ` +
    `snapshot() ${snapshotMs.toFixed(1)} ms, with JSON.stringify ${stringifyMs.toFixed(1)} ms, ` +
    `parseSnapshot ${parseMs.toFixed(1)} ms (median of 5)`,
);
for (let i = 1; i < held.length; i += 2) pool.deallocateBlock(held[i]);
pool.close();
