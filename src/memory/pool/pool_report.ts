/**
 * The words a pool's figures are said in: its OutOfMemoryError and the manager's report use the
 * same lines, so that a user reads one format wherever the figures appear.
 *
 * @module
 */

import { formatBytes } from "../../errors.ts";
import type { Block } from "./block.ts";
import { hitRate, type PoolStats } from "./pool_stats.ts";

/**
 * "A allocated, R reserved in S segments[, limit L]; peak P allocated; largest free block X of C
 * cached (fragmentation F%); hit rate H%".
 */
export function describePool(stats: PoolStats, limit = Infinity): string {
  const s = stats;
  const hits = hitRate(s);
  return `${formatBytes(s.allocatedBytes.current)} allocated, ` +
    `${formatBytes(s.reservedBytes.current)} reserved in ${s.segments.current} segments` +
    (Number.isFinite(limit) ? `, limit ${formatBytes(limit)}` : "") +
    `; peak ${formatBytes(s.allocatedBytes.peak)} allocated; largest free block ` +
    `${formatBytes(s.largestFreeBlock)} of ${formatBytes(s.freeCachedBytes)} cached ` +
    `(fragmentation ${(s.fragmentation * 100).toFixed(1)}%); hit rate ${(hits * 100).toFixed(1)}%`;
}

/** Lines naming the biggest live allocations by label: "label: n × size = total". */
export function describeLive(blocks: readonly Block[], limit = 5): string[] {
  const byLabel = new Map<string, { count: number; bytes: number }>();
  for (const block of blocks) {
    const label = block.label ?? "(no label)";
    const entry = byLabel.get(label) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += block.size;
    byLabel.set(label, entry);
  }
  const top = [...byLabel].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, limit);
  if (top.length === 0) return [];
  return [
    "biggest live allocations: " +
    top.map(([label, { count, bytes }]) =>
      `${label} ${count} × ≈${formatBytes(bytes / count)} = ${formatBytes(bytes)}`
    )
      .join("; "),
  ];
}

/** Why a pool named `name` cannot close: its live blocks, then what else is open; or undefined. */
export function closeRefusal(
  name: string,
  live: readonly Block[],
  openRanges: string | undefined,
): string | undefined {
  if (live.length > 0) {
    return `${name} cannot be closed: ${live.length} blocks are live\n  ${
      describeLive(live).join("\n  ")
    }`;
  }
  return openRanges === undefined ? undefined : `${name} cannot be closed: ${openRanges}`;
}

/** The lines a pool's OutOfMemoryError adds: what refused, the pool's figures, its biggest users. */
export function outOfMemoryLines(
  name: string,
  refusal: string | undefined,
  upstreamName: string,
  stats: PoolStats,
  limit: number,
  live: readonly Block[],
): string[] {
  return [
    refusal !== undefined ? `refused: ${refusal}` : `refused by ${upstreamName}`,
    `${name}: ${describePool(stats, limit)}`,
    ...describeLive(live),
  ];
}
