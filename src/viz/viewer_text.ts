// deno-lint-ignore-file no-explicit-any
/**
 * The viewer page's words: bytes in KiB/MiB/GiB, times in µs/ms/s, counts in k/M, HTML
 * escaping, round steps for axis ticks, an allocation's lifetime and tooltip, the peak table and
 * the legend. Runs in the browser: viewer_page.ts inlines each function's text, so each must
 * stay self-contained.
 *
 * @module
 */

/** Bytes for a person: `1.50 GiB`, `512 B`. */
export function bytesText(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Math.abs(bytes), unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 ? 0 : value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${bytes < 0 ? "-" : ""}${value.toFixed(digits)} ${units[unit]}`;
}
/** Milliseconds for a person: `1.2 ms`, `3.40 s`, `250 µs`. */
export function msText(ms: number): string {
  if (Math.abs(ms) >= 1000) return `${(ms / 1000).toFixed(ms >= 10000 ? 1 : 2)} s`;
  if (Math.abs(ms) >= 1) return `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}
/** A count for a person: `1.5M`, `47k`. */
export function countText(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n));
}
/** Text safe in HTML. */
export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A round tick step near `max / ticks`: powers of two (`base` 2) or 1-2-5 steps (`base` 10). */
export function niceStep(max: number, ticks: number, base: number): number {
  const raw = max / ticks;
  const step = Math.pow(base, Math.floor(Math.log(raw) / Math.log(base)));
  // Powers of two for bytes (256 MiB, 512 MiB, 1 GiB), 1-2-5 for counts.
  for (const m of base === 2 ? [1, 2] : [1, 2, 5]) if (step * m >= raw) return step * m;
  return step * base;
}

/** An allocation's lifetime: in time when the model has times, else in events. */
export function lifetimeText(model: any, i: number): string {
  const a = model.allocations;
  const freed = a.end[i] < model.events;
  if (model.times !== null) {
    const t0 = model.times[0];
    const from = msText(model.times[a.start[i]] - t0);
    return freed
      ? `from ${from} to ${msText(model.times[a.end[i]] - t0)} (${
        msText(model.times[a.end[i]] - model.times[a.start[i]])
      })`
      : `from ${from}, never freed`;
  }
  return freed
    ? `events ${countText(a.start[i])} to ${countText(a.end[i])} (${
      countText(a.end[i] - a.start[i])
    } events)`
    : `from event ${countText(a.start[i])}, never freed`;
}

/** An allocation for a tooltip (HTML): label, size, address, lifetime, site. */
export function describeAllocation(model: any, i: number): string {
  const a = model.allocations;
  const site = siteText(model, i);
  return `<b>${escapeHtml(model.labels[a.label[i]])}</b> ${bytesText(a.size[i])}` +
    (a.address[i] > 0 ? ` at 0x${a.address[i].toString(16)}` : "") +
    `<br>${lifetimeText(model, i)}` + (site ? `<br><code>${escapeHtml(site)}</code>` : "");
}

/** The first line of allocation `i`'s site (where it was allocated), "" when none was captured. */
export function siteText(model: any, i: number): string {
  const site = model.allocations.site[i];
  return site >= 0 ? model.sites[site].split("\n")[0] : "";
}

/**
 * The peak table's rows for allocations `live` (largest first): label with its colour swatch
 * (`colorOf`), size, lifetime, and the site column only when some site was captured.
 */
export function peakTableHtml(model: any, live: number[], colorOf: (i: number) => string): string {
  const a = model.allocations;
  const sites = live.some((i) => a.site[i] >= 0); // no empty column when none was captured
  return `<tr><th>label</th><th>size</th><th>lifetime</th>${sites ? "<th>site</th>" : ""}</tr>` +
    live.map((i) =>
      `<tr><td><i class="swatch" style="background:${colorOf(i)}"></i>${
        escapeHtml(model.labels[a.label[i]])
      }</td><td class="num">${bytesText(a.size[i])}</td><td>${lifetimeText(model, i)}</td>${
        sites ? `<td><code>${escapeHtml(siteText(model, i))}</code></td>` : ""
      }</tr>`
    ).join("");
}

/**
 * The legend: a swatch a label group, a line a pool's reserved bytes (in `poolColors` by turn),
 * the limit and the reference lines.
 */
export function legendHtml(model: any, groups: any[], poolColors: readonly string[]): string {
  const items = groups.map((group: any) =>
    `<span class="key"><i style="background:${group.color}"></i>${escapeHtml(group.name)}</span>`
  );
  model.pools.forEach((pool: string, p: number) =>
    items.push(
      `<span class="key"><i class="line" style="border-color:${
        poolColors[p % poolColors.length]
      }"></i>reserved: ${escapeHtml(pool)}</span>`,
    )
  );
  if (model.limit !== null) {
    items.push(
      `<span class="key"><i class="line dashed" style="border-color:#dc2626"></i>limit ${
        bytesText(model.limit)
      }</span>`,
    );
  }
  for (const ref of model.references) {
    items.push(
      `<span class="key"><i class="line dotted" style="border-color:#6b7280"></i>${
        escapeHtml(ref.name)
      } ${bytesText(ref.bytes)}</span>`,
    );
  }
  return items.join("");
}
