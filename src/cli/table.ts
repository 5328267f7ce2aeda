/**
 * What the demo and the benchmark scripts share: plain-text tables (columns padded, numbers
 * right-aligned), the median, and per-call timing in batches.
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

/**
 * Microseconds per call of `body`: one warm-up call (first-call costs stay out of the figure),
 * then the median over `batches` batches of `perBatch` calls.
 */
export function microsecondsPerCall(body: () => void, perBatch: number, batches = 7): number {
  body();
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = performance.now();
    for (let i = 0; i < perBatch; i++) body();
    samples.push(((performance.now() - start) * 1000) / perBatch);
  }
  return median(samples);
}
