/**
 * Plain-text tables for the demo and the benchmarks: columns padded, numbers right-aligned.
 *
 * @module
 */

/** Formats `rows` under `headers` as an aligned text table with a rule under the header. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length))
  );
  const numeric = headers.map((_, column) =>
    rows.length > 0 &&
    rows.every((row) => /^[-+]?[\d.,]+(?:\s?[a-zµ%×/]+)?$/i.test(row[column] ?? ""))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) =>
      numeric[column] ? (cell ?? "").padStart(widths[column]) : (cell ?? "").padEnd(widths[column])
    ).join("  ").trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
