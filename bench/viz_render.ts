/**
 * The viewer at scale: a 1.5-million-event KV-cache trace (bench/kv_cache_trace.ts) made into a
 * page (replayed through gpumem's pool), opened in headless Chromium; prints and writes
 * (build/viz_render.json) the page's size, the time to its first view (navigation to drawn), and
 * the redraw times of a pan across a zoomed window and of the whole range.
 *
 *     deno run -A bench/viz_render.ts [events]
 *
 * @module
 */

import { renderViewerPage } from "../src/viz/viewer_page.ts";
import { modelFromTrace } from "../src/viz/viewer_sources.ts";
import { BrowserPage, findChromium } from "../tests/browser/devtools.ts";
import { kvCacheTrace } from "./kv_cache_trace.ts";

const events = Number(Deno.args[0] ?? 1_500_000);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
const chromium = await findChromium();
if (chromium === null) {
  console.error("chromium not found: install it (apt-get install chromium) or set CHROMIUM");
  Deno.exit(2);
}
await Deno.mkdir("build/browser", { recursive: true });
let t = performance.now();
const trace = kvCacheTrace({ events });
const generateMs = performance.now() - t;
t = performance.now();
const model = modelFromTrace(trace, "bench/kv_cache_trace.ts");
const modelMs = performance.now() - t;
t = performance.now();
const html = await renderViewerPage(model);
const pageMs = performance.now() - t;
const path = "build/viz_large.html";
await Deno.writeTextFile(path, html);

const runs: { firstViewMs: number; panMs: number[]; fullMs: number[] }[] = [];
for (let run = 0; run < 3; run++) {
  const page = await BrowserPage.launch(chromium, "build/browser");
  try {
    await page.open(`file://${Deno.cwd()}/${path}`);
    await page.evaluate("gpumemViewer.ready");
    if (page.errors.length > 0) throw new Error(page.errors.join("\n"));
    const firstViewMs = await page.evaluate<number>("gpumemViewer.sinceNavigationMs");
    const panMs = await page.evaluate<number[]>(`(() => {
      const n = gpumemViewer.model.events, span = n / 20, out = [];
      for (let i = 0; i < 40; i++) {
        const x0 = (i / 40) * (n - span);
        gpumemViewer.zoom(x0, x0 + span);
        out.push(gpumemViewer.redraw());
      }
      return out;
    })()`);
    const fullMs = await page.evaluate<number[]>(`(() => {
      gpumemViewer.zoom(0, gpumemViewer.model.events);
      return Array.from({ length: 10 }, () => gpumemViewer.redraw());
    })()`);
    runs.push({ firstViewMs, panMs, fullMs });
    if (run === 0) await Deno.writeFile("build/viz_large.png", await page.screenshot());
  } finally {
    await page.close();
  }
}
const result = {
  events: trace.events.length,
  allocations: model.allocations.start.length,
  pageMiB: html.length / 2 ** 20,
  generateMs,
  modelMs,
  pageMs,
  firstViewMs: runs.map((r) => r.firstViewMs),
  panMedianMs: median(runs.flatMap((r) => r.panMs)),
  panMaxMs: Math.max(...runs.flatMap((r) => r.panMs)),
  fullRedrawMedianMs: median(runs.flatMap((r) => r.fullMs)),
  chromium: (await new Deno.Command(chromium, { args: ["--version"] }).output()).stdout,
};
const version = new TextDecoder().decode(result.chromium).trim();
await Deno.writeTextFile(
  "build/viz_render.json",
  JSON.stringify({ ...result, chromium: version }, null, 2),
);
console.log(`viewer at scale (${version}):`);
console.log(`  ${result.events} events, ${result.allocations} allocations`);
console.log(
  `  trace generated ${(generateMs / 1000).toFixed(2)} s, replayed into the model ${
    (modelMs / 1000).toFixed(2)
  } s, page written ${(pageMs / 1000).toFixed(2)} s (${result.pageMiB.toFixed(1)} MiB)`,
);
console.log(
  `  first view (navigation to drawn): ${
    result.firstViewMs.map((ms) => ms.toFixed(0)).join(", ")
  } ms`,
);
console.log(
  `  redraw while panning a 1/20 window: median ${result.panMedianMs.toFixed(1)} ms, max ${
    result.panMaxMs.toFixed(1)
  } ms; whole range ${result.fullRedrawMedianMs.toFixed(1)} ms`,
);
