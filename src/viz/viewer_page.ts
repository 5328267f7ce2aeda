/**
 * The viewer as one self-contained HTML file: the model's typed arrays gzip'd and base64'd into a
 * JSON script element, the style and the page script (viewer_client.ts) inline. No network, no
 * CDN: the file opens offline, from disk, in any current browser.
 *
 * @module
 */

import { viewerClient, viewerHelpers } from "./viewer_client.ts";
import type { ViewerModel } from "./viewer_model.ts";

/** A typed array as the page reads it. */
interface PackedArray {
  type: "i32" | "f64";
  data: string;
}

async function pack(
  array: Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer>,
): Promise<PackedArray> {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  const gzipped = new Uint8Array(await new Response(stream).arrayBuffer());
  let binary = "";
  for (let i = 0; i < gzipped.length; i += 0x8000) {
    binary += String.fromCharCode(...gzipped.subarray(i, i + 0x8000));
  }
  return { type: array instanceof Int32Array ? "i32" : "f64", data: btoa(binary) };
}

async function packAll<
  T extends Record<string, Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer>>,
>(
  columns: T,
): Promise<Record<keyof T, PackedArray>> {
  const out = {} as Record<keyof T, PackedArray>;
  for (const key of Object.keys(columns) as (keyof T)[]) out[key] = await pack(columns[key]);
  return out;
}

const STYLE = `
:root { color-scheme: light; --ink: #111827; --dim: #6b7280; --rule: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 28px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, sans-serif; color: var(--ink); background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 2px; }
h2 { font-size: 15px; margin: 0 0 6px; }
#source, .dim { color: var(--dim); }
#figures { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 12px 0 14px; }
#figures div { min-width: 120px; }
#figures dt { color: var(--dim); font-size: 12px; }
#figures dd { margin: 0; font-size: 17px; font-variant-numeric: tabular-nums; }
section { background: #fff; border: 1px solid var(--rule); border-radius: 8px; padding: 12px 14px;
  margin-bottom: 16px; }
.bar { display: flex; justify-content: space-between; align-items: center; color: var(--dim);
  font-size: 12px; margin-bottom: 4px; }
select { font: inherit; font-size: 12px; margin-left: 8px; }
button { font: inherit; font-size: 12px; padding: 2px 10px; border: 1px solid #d1d5db;
  border-radius: 4px; background: #fff; cursor: pointer; }
.wrap { position: relative; }
canvas { display: block; cursor: crosshair; }
.tip { position: absolute; display: none; pointer-events: none; max-width: 520px; z-index: 2;
  background: rgba(17, 24, 39, 0.94); color: #f9fafb; padding: 6px 9px; border-radius: 6px;
  font-size: 12px; line-height: 1.4; }
.tip code { color: #c7d2fe; font-size: 11px; word-break: break-all; }
.tip .dim { color: #9ca3af; }
#legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin-top: 8px; font-size: 12px; }
.key { display: inline-flex; align-items: center; gap: 6px; }
.key i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
.key i.line { width: 18px; height: 0; border-top: 2px solid; border-radius: 0; }
.key i.dashed { border-top-style: dashed; }
.key i.dotted { border-top-style: dotted; }
.row { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px;
  background: none; border: 0; padding: 0; }
.row > div { background: #fff; border: 1px solid var(--rule); border-radius: 8px;
  padding: 12px 14px; }
#mapStats { color: var(--dim); font-size: 12px; margin-bottom: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th { text-align: left; color: var(--dim); font-weight: 500; border-bottom: 1px solid var(--rule); }
td { padding: 3px 6px 3px 0; border-bottom: 1px solid #f3f4f6; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td code { font-size: 11px; color: var(--dim); word-break: break-all; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.error { color: #b91c1c; white-space: pre-wrap; }
@media (max-width: 900px) { .row { grid-template-columns: 1fr; } }
`;

/** Text safe inside a <script> element (no "</script>", no "<!--"). */
function scriptSafe(text: string): string {
  return text.replace(/</g, "\\u003c");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The viewer page for `model`, as one HTML document. */
export async function renderViewerPage(model: ViewerModel): Promise<string> {
  const data = {
    title: model.title,
    source: model.source,
    events: model.events,
    times: model.times === null ? null : await pack(model.times),
    labels: model.labels,
    sites: model.sites,
    pools: model.pools,
    allocations: await packAll(model.allocations),
    reservations: await packAll(model.reservations),
    marks: model.marks,
    limit: model.limit,
    figures: model.figures,
    references: model.references,
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(model.title)} · gpumem memory</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1 id="title"></h1>
  <div id="source"></div>
  <dl id="figures"></dl>
</header>
<section>
  <div class="bar"><span id="range"></span>
    <span>wheel: zoom · drag: pan · click: show that moment's segments
      <button id="reset">Reset zoom</button></span></div>
  <div class="wrap"><canvas id="timeline"></canvas><div id="tip" class="tip"></div></div>
  <div id="legend"></div>
</section>
<div class="row">
  <div><h2>Segments at <span id="mapAt"></span> <select id="mapPool"></select></h2>
    <div id="mapStats"></div>
    <div class="wrap"><canvas id="map"></canvas><div id="maptip" class="tip"></div></div></div>
  <div><h2>Largest live allocations at the peak · <span id="peakAt"></span></h2>
    <table id="peak"></table></div>
</div>
<script type="application/json" id="model">${scriptSafe(JSON.stringify(data))}</script>
<script>
${viewerHelpers.map((helper) => helper.toString()).join("\n")}
(${viewerClient.toString()})();
</script>
</body>
</html>
`;
}
