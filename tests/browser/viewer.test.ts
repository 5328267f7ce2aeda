/**
 * The memory viewer in a real browser (headless Chromium over the DevTools protocol): it loads
 * with no console errors, draws one series per label, hover names the allocation under the
 * mouse, the segment map and the peak table fill in, and a screenshot is not blank. Ignored, the
 * reason in the name, where no chromium is installed.
 */

import assert from "node:assert/strict";
import {
  cpuDevice,
  DeviceBuffer,
  MemoryManager,
  MemoryTracker,
  setActiveTracker,
} from "../../mod.ts";
import { DevicePools } from "../../src/memory/default_resources.ts";
import { renderViewerPage } from "../../src/viz/viewer_page.ts";
import { modelFromSnapshot, readViewerModel } from "../../src/viz/viewer_sources.ts";
import { BrowserPage, findChromium } from "./devtools.ts";

const chromium = await findChromium();
const reason = chromium === null
  ? "chromium not found (apt-get install chromium, or set CHROMIUM)"
  : undefined;
if (reason !== undefined) console.error(`tests/browser ignored: ${reason}`);

const MiB = 1 << 20;
const scratch = "build/browser";

function browserTest(name: string, fn: (page: BrowserPage) => Promise<void>): void {
  Deno.test({
    name: reason === undefined ? `browser: ${name}` : `browser: ${name} [ignored: ${reason}]`,
    ignore: reason !== undefined,
    sanitizeResources: false, // the browser's socket and process are closed in finally
    sanitizeOps: false,
    async fn() {
      await Deno.mkdir(scratch, { recursive: true });
      const page = await BrowserPage.launch(chromium!, scratch);
      try {
        await fn(page);
      } finally {
        await page.close();
      }
    },
  });
}

/** A run with three labels: alpha lives throughout, beta is one large block, gamma churns. */
function knownRun() {
  const tracker = new MemoryTracker({ sites: "on", eventCapacity: 10_000 });
  const manager = new MemoryManager(tracker, new DevicePools());
  const pool = manager.pool(cpuDevice);
  const previous = setActiveTracker(tracker);
  try {
    const alpha = DeviceBuffer.allocate(4 * MiB, { resource: pool, label: "alpha" });
    for (let i = 0; i < 200; i++) {
      DeviceBuffer.allocate(MiB, { resource: pool, label: "gamma" }).free();
    }
    const beta = DeviceBuffer.allocate(64 * MiB, { resource: pool, label: "beta" });
    for (let i = 0; i < 200; i++) {
      DeviceBuffer.allocate(MiB, { resource: pool, label: "gamma" }).free();
    }
    beta.free();
    const snapshot = manager.snapshot();
    alpha.free();
    pool.freeCache();
    return snapshot;
  } finally {
    setActiveTracker(previous);
    manager.pool(cpuDevice).close();
  }
}

async function openViewer(page: BrowserPage, html: string, name: string): Promise<void> {
  const path = `${scratch}/${name}.html`;
  await Deno.writeTextFile(path, html);
  await page.open(`file://${Deno.cwd()}/${path}`);
  await page.evaluate("gpumemViewer.ready");
}

browserTest(
  "a known run: no console errors, one series per label, hover names beta",
  async (page) => {
    const snapshot = knownRun();
    await openViewer(
      page,
      await renderViewerPage(modelFromSnapshot(snapshot, "known run")),
      "known",
    );
    assert.deepEqual(page.errors, [], "no console errors or exceptions");
    const series = await page.evaluate<string[]>("gpumemViewer.series");
    assert.deepEqual([...series].sort(), ["alpha", "beta", "gamma"]);
    // beta is allocated at event ~403 (after alpha, 200 gamma pairs and the pool's reservations):
    // find it in the model, and point at the middle of its band.
    const middle = await page.evaluate<number>(`(() => {
    const m = gpumemViewer.model, a = m.allocations;
    for (let i = 0; i < a.start.length; i++) {
      if (m.labels[a.label[i]] === "beta") return Math.floor((a.start[i] + a.end[i]) / 2);
    }
    return -1;
  })()`);
    assert.ok(middle > 0);
    const at = await page.evaluate<{ x: number; y: number }>(
      `gpumemViewer.locate(${middle}, ${4 * MiB + 32 * MiB})`,
    );
    await page.mouseMove(at.x, at.y);
    const tip = await page.evaluate<string>("document.getElementById('tip').textContent");
    assert.match(tip, /^beta 64\.0 MiB/, tip);
    assert.match(tip, /viewer\.test\.ts/, "the site is shown");
    const low = await page.evaluate<{ x: number; y: number }>(
      `gpumemViewer.locate(${middle}, ${MiB})`,
    );
    await page.mouseMove(low.x, low.y);
    assert.match(
      await page.evaluate<string>("document.getElementById('tip').textContent"),
      /^alpha/,
    );
    const peak = await page.evaluate<string>("document.getElementById('peak').textContent");
    assert.match(peak, /beta64\.0 MiB/);
    const map = await page.evaluate<string>("document.getElementById('mapStats').textContent");
    assert.match(map, /mapped ranges/);
    assert.deepEqual(page.errors, []);
  },
);

browserTest(
  "the shared ResNet trace (where present): drawn, zoomable, a screenshot not blank",
  async (page) => {
    let path = "../shared/traces/resnet.json.gz";
    try {
      await Deno.stat(path);
    } catch {
      path = "";
    }
    const html = path === ""
      ? await renderViewerPage(modelFromSnapshot(knownRun(), "known run"))
      : await renderViewerPage(await readViewerModel(path));
    await openViewer(page, html, "resnet");
    assert.deepEqual(page.errors, []);
    // Canvas pixels: the timeline holds many colours, not a blank sheet.
    const colours = await page.evaluate<number>(`(() => {
    const c = document.getElementById('timeline');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size;
  })()`);
    assert.ok(colours > 8, `the timeline has ${colours} colours`);
    const redraw = await page.evaluate<number>(
      "gpumemViewer.zoom(1000, 3000), gpumemViewer.redraw()",
    );
    assert.ok(Number.isFinite(redraw));
    assert.match(
      await page.evaluate<string>("document.getElementById('range').textContent"),
      /1\.0k/,
    );
    const png = await page.screenshot();
    assert.ok(png.length > 20_000, `a screenshot of ${png.length} bytes`);
    await Deno.writeFile(`${scratch}/resnet.png`, png);
    assert.deepEqual(page.errors, []);
  },
);

browserTest(
  "a snapshot PyTorch wrote on a GPU: drawn beside gpumem's replay of it, no console errors",
  async (page) => {
    const model = await readViewerModel("tests/fixtures/torch_snapshot_h200.pickle");
    await openViewer(page, await renderViewerPage(model), "torch_h200");
    assert.deepEqual(page.errors, []);
    const figures = await page.evaluate<string>("document.body.textContent");
    assert.match(figures, /PyTorch peak reserved/);
    assert.match(figures, /gpumem replay: peak reserved/);
    const png = await page.screenshot();
    assert.ok(png.length > 20_000, `a screenshot of ${png.length} bytes`);
    await Deno.writeFile(`${scratch}/torch_h200.png`, png);
  },
);
