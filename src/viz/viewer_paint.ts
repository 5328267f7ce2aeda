// deno-lint-ignore-file no-explicit-any
/**
 * The viewer timeline's data painted on a 2-D canvas context: live bytes stacked by label, one
 * column a pixel, and each pool's reserved bytes as a line. Runs in the browser: viewer_page.ts
 * inlines each function's text, so each must stay self-contained.
 *
 * @module
 */

/**
 * Paints `cols.stacks` (columns' output: `prep.G` groups a column) from x = `left`, `plotW`
 * columns wide, `y(bytes)` giving the height; groups in their colours, the rest in `otherColor`.
 */
export function paintLiveColumns(
  ctx: any,
  cols: any,
  prep: any,
  left: number,
  plotW: number,
  y: (bytes: number) => number,
): void {
  const G = prep.G;
  for (let c = 0; c < plotW; c++) {
    let base = 0;
    for (let k = 0; k < G; k++) {
      const v = cols.stacks[c * G + k];
      if (v <= 0) continue;
      ctx.fillStyle = prep.groups[k]?.color ?? prep.otherColor;
      const yTop = y(base + v), yBottom = y(base);
      ctx.fillRect(left + c, yTop, 1, Math.max(0.5, yBottom - yTop));
      base += v;
    }
  }
}

/** Paints `cols.reserved` (`pools` values a column) as one line a pool, in `colors` by turn. */
export function paintPoolLines(
  ctx: any,
  cols: any,
  pools: number,
  colors: readonly string[],
  left: number,
  plotW: number,
  y: (bytes: number) => number,
): void {
  for (let p = 0; p < pools; p++) {
    ctx.strokeStyle = colors[p % colors.length];
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (let c = 0; c < plotW; c++) {
      const v = cols.reserved[c * pools + p];
      if (c === 0) ctx.moveTo(left + c, y(v));
      else ctx.lineTo(left + c, y(v));
    }
    ctx.stroke();
  }
}
