/**
 * Mapped address ranges as sorted, disjoint [start, end) pairs: adding one merges it with those
 * it touches, removing one cuts it out. Used in Deno (the state before a snapshot's log began)
 * and in the viewer page (the segment map of a moment), which inlines these functions' text, so
 * each stays self-contained.
 *
 * @module
 */

/** `ranges` with [start, end) added, merged with the ranges it overlaps or touches. */
export function addRange(ranges: number[][], start: number, end: number): number[][] {
  const sorted = [...ranges, [start, end]].sort((a, b) => a[0] - b[0]);
  const merged: number[][] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push([range[0], range[1]]);
  }
  return merged;
}

/** `ranges` with [start, end) cut out. */
export function removeRange(ranges: number[][], start: number, end: number): number[][] {
  const kept: number[][] = [];
  for (const [s, t] of ranges) {
    if (t <= start || s >= end) kept.push([s, t]);
    else {
      if (s < start) kept.push([s, start]);
      if (t > end) kept.push([end, t]);
    }
  }
  return kept;
}
