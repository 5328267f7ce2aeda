/**
 * Reports: live allocations grouped by label and site, largest first, as rows and as a table.
 *
 * @module
 */

import { formatBytes } from "../errors.ts";
import type { TrackedAllocation } from "./tracker_node.ts";

/** One row of a report: what is live under one label (and site). */
export interface ReportRow {
  /** The label. */
  label: string;
  /** The site, when captured. */
  site: string | undefined;
  /** Live allocations. */
  count: number;
  /** Live bytes. */
  bytes: number;
}

/** A report: rows largest first, and a readable table. */
export interface MemoryReport {
  /** Live allocations in all. */
  count: number;
  /** Live bytes in all. */
  bytes: number;
  /** Grouped by label and site, largest first. */
  rows: ReportRow[];
  /** The same as an aligned text table. */
  text: string;
}

/** Groups `allocations` by label and site into a report, largest first. */
export function buildReport(allocations: Iterable<TrackedAllocation>): MemoryReport {
  const groups = new Map<string, ReportRow>();
  let count = 0;
  let bytes = 0;
  for (const allocation of allocations) {
    count++;
    bytes += allocation.bytes;
    const key = `${allocation.label}\u0000${allocation.site ?? ""}`;
    const row = groups.get(key) ??
      { label: allocation.label, site: allocation.site, count: 0, bytes: 0 };
    row.count++;
    row.bytes += allocation.bytes;
    groups.set(key, row);
  }
  const rows = [...groups.values()].sort((a, b) => b.bytes - a.bytes);
  const lines = [
    `${count} live allocations, ${formatBytes(bytes)}`,
    ...rows.map((row) =>
      `  ${formatBytes(row.bytes).padStart(11)}  ${String(row.count).padStart(6)} × ${row.label}` +
      (row.site ? `  at ${row.site}` : "")
    ),
  ];
  return { count, bytes, rows, text: lines.join("\n") };
}
