// deno-lint-ignore-file no-explicit-any
/**
 * The viewer's segment map, as data: one pool's mapped ranges at a moment of the timeline, laid
 * end to end, with the live blocks in them and the free space between. Runs in the browser:
 * viewer_page.ts inlines the function's text (it calls only addRange, removeRange and liveAt,
 * which the page inlines too), so it must stay self-contained; the page script paints the layout.
 *
 * @module
 */

import { addRange, removeRange } from "./address_ranges.ts";
import { liveAt } from "./viewer_columns.ts";

/**
 * Pool `pool`'s ranges mapped at event `m` and what lay in them: `ranges` ([start, end] by
 * address), `offsets` (each range's start when laid end to end), `blocks` ([from, to, allocation]
 * in that layout), the bytes mapped, allocated and free, and the largest free hole.
 */
export function segmentLayout(model: any, prep: any, m: number, pool: number): any {
  const r = model.reservations;
  let ranges: number[][] = [];
  for (let i = 0; i < r.at.length && r.at[i] <= m; i++) {
    const start = r.address[i], end = start + Math.abs(r.delta[i]);
    if (start === 0 || r.pool[i] !== pool) continue;
    ranges = r.delta[i] > 0 ? addRange(ranges, start, end) : removeRange(ranges, start, end);
  }
  const a = model.allocations;
  const live = liveAt(model, prep, m).filter((i: number) => a.address[i] > 0)
    .sort((p: number, q: number) => a.address[p] - a.address[q]);
  const offsets: number[] = [];
  let total = 0;
  for (const [s, t] of ranges) {
    offsets.push(total);
    total += t - s;
  }
  let allocated = 0, largestFree = 0, free = 0, k = 0;
  const blocks: number[][] = [];
  ranges.forEach(([s, t], index) => {
    let cursor = s;
    while (k < live.length && a.address[live[k]] < t) {
      const i = live[k++];
      const start = a.address[i];
      if (start < s) continue;
      const gap = start - cursor;
      if (gap > 0) {
        free += gap;
        largestFree = Math.max(largestFree, gap);
      }
      const from = offsets[index] + (start - s);
      blocks.push([from, from + a.size[i], i]);
      allocated += a.size[i];
      cursor = Math.max(cursor, start + a.size[i]);
    }
    if (t > cursor) {
      free += t - cursor;
      largestFree = Math.max(largestFree, t - cursor);
    }
  });
  return { ranges, offsets, blocks, total, allocated, free, largestFree, liveCount: live.length };
}
