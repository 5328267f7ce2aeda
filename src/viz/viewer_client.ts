// deno-lint-ignore-file no-explicit-any
/**
 * The viewer's page script. It runs in a browser, not in Deno: viewer_page.ts inlines
 * `viewerClient.toString()` into the HTML after the helpers it calls (viewerHelpers: the
 * formatting of viewer_text.ts, the level of detail of viewer_columns.ts), so it uses nothing
 * else from outside its body; DOM objects are typed `any` (Deno's type check has no DOM).
 *
 * It decodes the model (gzip'd typed arrays), then draws on canvases: the timeline (live bytes
 * stacked by label, one column per pixel aggregated from checkpoints, reserved bytes per pool,
 * the limit and reference lines, out-of-memory and trim marks; wheel zooms, drag pans, hover names
 * the allocation), the segment map at the chosen moment, and the largest allocations at the peak.
 * `globalThis.gpumemViewer` exposes what the browser tests read.
 *
 * @module
 */

import { addRange, removeRange } from "./address_ranges.ts";
import { columns, liveAt, prepare } from "./viewer_columns.ts";
import { paintSegmentMap, segmentLayout, segmentMapText } from "./viewer_segments.ts";
import { paintLiveColumns, paintPoolLines } from "./viewer_paint.ts";
import {
  bytesText,
  countText,
  describeAllocation,
  escapeHtml,
  legendHtml,
  lifetimeText,
  msText,
  niceStep,
  peakTableHtml,
  siteText,
} from "./viewer_text.ts";

/**
 * The functions the page script calls besides viewerClient; viewer_page.ts inlines each before
 * it (the page has no modules: in the browser they are the page's own functions).
 */
export const viewerHelpers = [
  bytesText,
  msText,
  countText,
  escapeHtml,
  niceStep,
  prepare,
  columns,
  liveAt,
  addRange,
  removeRange,
  segmentLayout,
  paintSegmentMap,
  segmentMapText,
  lifetimeText,
  describeAllocation,
  siteText,
  peakTableHtml,
  legendHtml,
  paintLiveColumns,
  paintPoolLines,
] as const;

/** The page's entry point (see the module doc: inlined as text, run in the browser). */
export function viewerClient(): void {
  const g: any = globalThis;
  const doc: any = g.document;
  const $ = (id: string): any => doc.getElementById(id);
  const started = g.performance.now();
  const api: any = { ready: null, series: [], firstViewMs: NaN, errors: [] };
  g.gpumemViewer = api;

  const POOL_LINES = ["#1f2937", "#7c3aed", "#0e7490", "#b45309"];

  async function unpack(packed: any): Promise<any> {
    const binary = g.atob(packed.data);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const stream = new g.Blob([bytes]).stream().pipeThrough(new g.DecompressionStream("gzip"));
    const buffer = await new g.Response(stream).arrayBuffer();
    const kinds: any = { i32: Int32Array, f64: Float64Array };
    return new kinds[packed.type](buffer);
  }

  async function load(): Promise<any> {
    const raw = JSON.parse($("model").textContent);
    const model: any = { ...raw, allocations: {}, reservations: {} };
    for (const key of Object.keys(raw.allocations)) {
      model.allocations[key] = await unpack(raw.allocations[key]);
    }
    for (const key of Object.keys(raw.reservations)) {
      model.reservations[key] = await unpack(raw.reservations[key]);
    }
    model.times = raw.times === null ? null : await unpack(raw.times);
    return model;
  }

  function setupCanvas(canvas: any, height: number): any {
    const width = canvas.parentElement.clientWidth;
    const ratio = g.devicePixelRatio || 1;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { ctx, width, height };
  }

  function main(model: any): void {
    const prep = prepare(model);
    /** An allocation's colour: its label group's, or the colour of the rest. */
    const colorOf = (i: number): string =>
      prep.groups[prep.allocationGroup[i]]?.color ?? prep.otherColor;
    api.series = prep.groups.map((group: any) => group.name);
    api.model = model;
    $("title").textContent = model.title;
    $("source").textContent = `${model.source} · ${countText(model.events)} events · ` +
      `${countText(model.allocations.start.length)} allocations · peak live ${
        bytesText(prep.peak)
      }`;
    $("figures").innerHTML = model.figures.map((f: any) =>
      `<div><dt>${escapeHtml(f[0])}</dt><dd>${escapeHtml(f[1])}</dd></div>`
    ).join("");

    const canvas = $("timeline");
    const tip = $("tip");
    const M = { left: 70, right: 16, top: 14, bottom: 30 };
    let view = { x0: 0, x1: Math.max(1, model.events) };
    let cols: any = null, yMax = 1, plotW = 1, plotH = 1, selected = prep.peakAt;

    function legend(): void {
      $("legend").innerHTML = legendHtml(model, prep.groups, POOL_LINES);
    }

    function draw(): void {
      const { ctx, width, height } = setupCanvas(canvas, 380);
      plotW = Math.max(1, Math.floor(width - M.left - M.right));
      plotH = height - M.top - M.bottom;
      cols = columns(model, prep, view.x0, view.x1, plotW);
      const pools = model.pools.length;
      // The y range: the highest live total and the highest pool line in view (each pool's
      // reserved bytes are drawn as a line of their own, not stacked).
      let visible = 0;
      for (let c = 0; c < plotW; c++) visible = Math.max(visible, cols.totals[c]);
      for (let i = 0; i < plotW * pools; i++) visible = Math.max(visible, cols.reserved[i]);
      const full = view.x0 <= 0 && view.x1 >= model.events;
      let top = visible;
      if (full) {
        if (model.limit !== null) top = Math.max(top, model.limit);
        for (const ref of model.references) top = Math.max(top, ref.bytes);
      }
      yMax = Math.max(1, top * 1.08);
      const y = (bytes: number) => M.top + plotH - (bytes / yMax) * plotH;
      ctx.clearRect(0, 0, width, height);
      ctx.font = "12px system-ui, sans-serif";
      // Grid and y labels.
      const step = niceStep(yMax, 5, 2);
      ctx.strokeStyle = "#e5e7eb";
      ctx.fillStyle = "#4b5563";
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (let v = 0; v <= yMax; v += step) {
        ctx.beginPath();
        ctx.moveTo(M.left, Math.round(y(v)) + 0.5);
        ctx.lineTo(M.left + plotW, Math.round(y(v)) + 0.5);
        ctx.stroke();
        ctx.fillText(bytesText(v), M.left - 6, y(v));
      }
      paintLiveColumns(ctx, cols, prep, M.left, plotW, y);
      paintPoolLines(ctx, cols, pools, POOL_LINES, M.left, plotW, y);
      ctx.lineWidth = 1;
      const hline = (bytes: number, color: string, dash: number[]) => {
        if (bytes > yMax) return;
        ctx.strokeStyle = color;
        ctx.setLineDash(dash);
        ctx.beginPath();
        ctx.moveTo(M.left, y(bytes));
        ctx.lineTo(M.left + plotW, y(bytes));
        ctx.stroke();
        ctx.setLineDash([]);
      };
      if (model.limit !== null) hline(model.limit, "#dc2626", [6, 4]);
      for (const ref of model.references) hline(ref.bytes, "#6b7280", [2, 3]);
      // Marks.
      const x = (e: number) => M.left + ((e - view.x0) / (view.x1 - view.x0)) * plotW;
      for (const mark of model.marks) {
        if (mark.at < view.x0 || mark.at > view.x1) continue;
        ctx.strokeStyle = mark.kind === "oom" ? "#dc2626" : "#2563eb";
        ctx.beginPath();
        ctx.moveTo(Math.round(x(mark.at)) + 0.5, M.top);
        ctx.lineTo(Math.round(x(mark.at)) + 0.5, M.top + plotH);
        ctx.stroke();
      }
      // The moment the segment map shows.
      if (selected >= view.x0 && selected <= view.x1) {
        ctx.strokeStyle = "#111827";
        ctx.setLineDash([3, 3]);
        ctx.beginPath();
        ctx.moveTo(Math.round(x(selected)) + 0.5, M.top);
        ctx.lineTo(Math.round(x(selected)) + 0.5, M.top + plotH);
        ctx.stroke();
        ctx.setLineDash([]);
      }
      // X axis: events (evenly spaced; a recorded time is in the tooltip, since time is not).
      ctx.fillStyle = "#4b5563";
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      const span = view.x1 - view.x0;
      const xStep = niceStep(span, Math.max(2, Math.floor(plotW / 110)), 10);
      for (let e = Math.ceil(view.x0 / xStep) * xStep; e <= view.x1; e += xStep) {
        ctx.fillText(countText(e), x(e), M.top + plotH + 6);
      }
      ctx.strokeStyle = "#9ca3af";
      ctx.strokeRect(M.left + 0.5, M.top + 0.5, plotW, plotH);
      $("range").textContent =
        `events ${countText(view.x0)} – ${countText(view.x1)} of ${countText(model.events)}` +
        (model.times !== null ? " (times in the tooltip)" : "");
    }

    function hover(cx: number, cy: number): string | null {
      const c = Math.floor(cx - M.left);
      if (cols === null || c < 0 || c >= plotW || cy < M.top || cy > M.top + plotH) return null;
      const bytes = ((M.top + plotH - cy) / plotH) * yMax;
      const e = cols.at[c];
      const pools = model.pools.length;
      const reserved = model.pools.map((name: string, p: number) =>
        `${escapeHtml(name)} ${bytesText(cols.reserved[c * pools + p])}`
      ).join(", ");
      const when = model.times !== null
        ? msText(model.times[e] - model.times[0])
        : `event ${countText(e)}`;
      let text = `${when}: ${bytesText(cols.totals[c])} live; reserved: ${reserved}`;
      let base = 0;
      for (let k = 0; k < prep.G; k++) {
        const v = cols.stacks[c * prep.G + k];
        if (bytes >= base && bytes < base + v) {
          let offset = base;
          for (const i of liveAt(model, prep, e, k)) {
            offset += model.allocations.size[i];
            if (offset > bytes) {
              text = `${describeAllocation(model, i)}<br><span class="dim">${text}</span>`;
              break;
            }
          }
          break;
        }
        base += v;
      }
      return text;
    }

    let drag: any = null;
    canvas.addEventListener("mousemove", (event: any) => {
      const box = canvas.getBoundingClientRect();
      const cx = event.clientX - box.left, cy = event.clientY - box.top;
      if (drag !== null) {
        const shift = ((drag.x - cx) / plotW) * (drag.view.x1 - drag.view.x0);
        const span = drag.view.x1 - drag.view.x0;
        const x0 = Math.min(Math.max(0, drag.view.x0 + shift), Math.max(0, model.events - span));
        view = { x0, x1: x0 + span };
        drag.moved = true;
        g.requestAnimationFrame(draw);
        return;
      }
      const text = hover(cx, cy);
      if (text === null) {
        tip.style.display = "none";
        return;
      }
      tip.innerHTML = text;
      tip.style.display = "block";
      const left = Math.min(cx + 14, box.width - tip.offsetWidth - 4);
      tip.style.left = `${Math.max(0, left)}px`;
      tip.style.top = `${cy + 14}px`;
    });
    canvas.addEventListener("mouseleave", () => (tip.style.display = "none"));
    canvas.addEventListener("mousedown", (event: any) => {
      const box = canvas.getBoundingClientRect();
      drag = { x: event.clientX - box.left, view: { ...view }, moved: false };
    });
    g.addEventListener("mouseup", (event: any) => {
      if (drag !== null && !drag.moved && cols !== null) {
        const box = canvas.getBoundingClientRect();
        const c = Math.floor(event.clientX - box.left - M.left);
        if (c >= 0 && c < plotW) {
          selected = cols.at[c];
          draw();
          segmentMap(selected);
        }
      }
      drag = null;
    });
    canvas.addEventListener("wheel", (event: any) => {
      event.preventDefault();
      const box = canvas.getBoundingClientRect();
      const f = Math.min(1, Math.max(0, (event.clientX - box.left - M.left) / plotW));
      const span = view.x1 - view.x0;
      const next = Math.min(model.events, Math.max(8, span * Math.exp(event.deltaY * 0.002)));
      const center = view.x0 + f * span;
      const x0 = Math.min(Math.max(0, center - f * next), Math.max(0, model.events - next));
      view = { x0, x1: x0 + next };
      g.requestAnimationFrame(draw);
    }, { passive: false });
    $("reset").addEventListener("click", () => {
      view = { x0: 0, x1: Math.max(1, model.events) };
      draw();
    });

    // The segment map at event m: mapped ranges from the reservations, blocks from allocations.
    const mapCanvas = $("map");
    let mapLayout: any = null;
    // One pool's ranges at a time (a device pool and a pinned host pool do not share a map).
    const poolSelect = $("mapPool");
    let mapPool = 0;
    if (model.pools.length > 1) {
      poolSelect.innerHTML = model.pools.map((name: string, p: number) =>
        `<option value="${p}">${escapeHtml(name)}</option>`
      ).join("");
      poolSelect.addEventListener("change", () => {
        mapPool = Number(poolSelect.value);
        segmentMap(selected);
      });
    } else poolSelect.style.display = "none";
    function segmentMap(m: number): void {
      const layout = segmentLayout(model, prep, m, mapPool);
      const { blocks } = layout;
      const { ctx, width, height } = setupCanvas(mapCanvas, 260);
      ctx.clearRect(0, 0, width, height);
      const grid = paintSegmentMap(ctx, width, height, layout, colorOf);
      mapLayout = { blocks, width, ...grid };
      const when = model.times !== null
        ? msText(model.times[m] - model.times[0])
        : `event ${countText(m)}`;
      $("mapAt").textContent = m === prep.peakAt ? `${when} (the peak)` : when;
      $("mapStats").textContent = segmentMapText(layout, grid.perRow);
    }
    mapCanvas.addEventListener("mousemove", (event: any) => {
      const tipMap = $("maptip");
      if (mapLayout === null) return;
      const box = mapCanvas.getBoundingClientRect();
      const cx = event.clientX - box.left, cy = event.clientY - box.top;
      const row = Math.floor((cy - 4) / (mapLayout.rowH + 3));
      const offset = row * mapLayout.perRow + (cx / mapLayout.width) * mapLayout.perRow;
      const hit = mapLayout.blocks.find((b: number[]) => b[0] <= offset && offset < b[1]);
      if (hit === undefined) {
        tipMap.style.display = "none";
        return;
      }
      tipMap.innerHTML = describeAllocation(model, hit[2]);
      tipMap.style.display = "block";
      tipMap.style.left = `${Math.min(cx + 14, box.width - tipMap.offsetWidth - 4)}px`;
      tipMap.style.top = `${cy + 14}px`;
    });
    mapCanvas.addEventListener("mouseleave", () => ($("maptip").style.display = "none"));

    function peakTable(): void {
      const live = liveAt(model, prep, prep.peakAt)
        .sort((p, q) => model.allocations.size[q] - model.allocations.size[p]).slice(0, 12);
      $("peak").innerHTML = peakTableHtml(model, live, colorOf);
      $("peakAt").textContent = `${bytesText(prep.peak)} live`;
    }

    /** Where the browser tests point: client coordinates of (event, bytes) on the timeline. */
    api.locate = (e: number, bytes: number) => {
      const box = canvas.getBoundingClientRect();
      const x = M.left + ((e - view.x0) / (view.x1 - view.x0)) * plotW + 0.5;
      return { x: box.left + x, y: box.top + M.top + plotH - (bytes / yMax) * plotH };
    };
    api.redraw = () => {
      const t = g.performance.now();
      draw();
      return g.performance.now() - t;
    };
    api.zoom = (x0: number, x1: number) => {
      view = { x0, x1 };
      draw();
    };
    legend();
    draw();
    segmentMap(selected);
    peakTable();
    g.addEventListener("resize", () => {
      draw();
      segmentMap(selected);
    });
  }

  api.ready = load().then((model) => {
    main(model);
    api.firstViewMs = g.performance.now() - started;
    api.sinceNavigationMs = g.performance.now();
    doc.body.dataset.ready = "true";
  }).catch((error: any) => {
    api.errors.push(String(error?.stack ?? error));
    doc.body.insertAdjacentHTML(
      "afterbegin",
      `<pre class="error">The viewer failed: ${escapeHtml(String(error))}</pre>`,
    );
    throw error;
  });
}
