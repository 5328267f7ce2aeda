// deno-lint-ignore-file no-explicit-any
/**
 * The viewer's segment map, as data: one pool's mapped ranges at a moment of the timeline, laid
 * end to end, with the live blocks in them and the free space between. Runs in the browser:
 * viewer_page.ts inlines the functions' text (they call only addRange, removeRange, liveAt and
 * the text helpers, which the page inlines too), so they must stay self-contained. The page
 * script calls paintSegmentMap with its canvas.
 *
 * @module
 */

import { addRange, removeRange } from "./address_ranges.ts";
import { liveAt } from "./viewer_columns.ts";
import { bytesText, countText } from "./viewer_text.ts";

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

/**
 * Paints `layout` (segmentLayout's) on a 2-D context of `width` × `height` as 16 rows, mapped
 * space grey, blocks in `colorOf(allocation)`, a dark tick where one range ends and the next
 * begins. Returns the grid, for hit-testing the pointer.
 */
export function paintSegmentMap(
  ctx: any,
  width: number,
  height: number,
  layout: any,
  colorOf: (allocation: number) => string,
): { rows: number; rowH: number; perRow: number } {
  const { ranges, offsets, blocks, total } = layout;
  const rows = 16, rowH = Math.floor((height - 8) / rows) - 3;
  const perRow = Math.max(1, total / rows);
  const place = (offset: number) => {
    const row = Math.min(rows - 1, Math.floor(offset / perRow));
    return { row, x: ((offset - row * perRow) / perRow) * width };
  };
  const paint = (from: number, to: number, color: string) => {
    while (from < to) {
      const { row, x } = place(from);
      const rowEnd = (row + 1) * perRow;
      const stop = Math.min(to, rowEnd);
      const w = ((stop - from) / perRow) * width;
      ctx.fillStyle = color;
      ctx.fillRect(x, 4 + row * (rowH + 3), Math.max(0.6, w), rowH);
      if (stop >= rowEnd && row === rows - 1) break;
      from = stop;
    }
  };
  ranges.forEach(([s, t]: number[], index: number) => {
    paint(offsets[index], offsets[index] + (t - s), "#e5e7eb");
  });
  for (const [from, to, i] of blocks) paint(from, to, colorOf(i));
  // Range boundaries, so separate segments read as separate.
  ctx.fillStyle = "#111827";
  for (const offset of offsets.slice(1)) {
    const { row, x } = place(offset);
    ctx.fillRect(x - 0.5, 2 + row * (rowH + 3), 1, rowH + 4);
  }
  return { rows, rowH, perRow };
}

/** The line under the segment map: ranges, bytes allocated and free, the largest hole. */
export function segmentMapText(layout: any, perRow: number): string {
  const { ranges, total, allocated, free, largestFree } = layout;
  if (ranges.length === 0) {
    return "No mapped ranges with addresses were recorded up to this moment.";
  }
  const fragmentation = free > 0 ? (100 * (1 - largestFree / free)).toFixed(1) : "0.0";
  return `${ranges.length} mapped ranges, ${bytesText(total)}: ${bytesText(allocated)} in ${
    countText(layout.liveCount)
  } blocks, ${bytesText(free)} free (largest hole ${bytesText(largestFree)}; ` +
    `fragmentation ${fragmentation}%). Each row is ${bytesText(perRow)}.`;
}
