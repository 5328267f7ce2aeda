// deno-lint-ignore-file no-explicit-any
/**
 * The viewer's level of detail: events grouped by label (the biggest labels coloured, the rest as
 * "other"), per-label live bytes checkpointed every 4,096 events, and from those the columns of a
 * zoomed view (each column's highest total and the label stack there, and the pools' reserved
 * bytes), so a redraw walks the visible events once. Runs in the browser: viewer_page.ts inlines
 * each function's text, so each must stay self-contained.
 *
 * @module
 */

/** Groups (top labels by their own peak, the rest as "other"), deltas and checkpoints. */
export function prepare(model: any): any {
  const COLORS = [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#86bcb6",
  ];
  const OTHER = "#bab0ac";
  const TOP = COLORS.length;
  const CHECKPOINT = 4096;
  const n = model.events;
  const a = model.allocations;
  const count = a.start.length;
  const labelDelta = new Float64Array(n + 1);
  const labelOf = new Int32Array(n + 1).fill(-1);
  for (let i = 0; i < count; i++) {
    labelDelta[a.start[i]] += a.size[i];
    labelOf[a.start[i]] = a.label[i];
    if (a.end[i] < n) {
      labelDelta[a.end[i]] -= a.size[i];
      labelOf[a.end[i]] = a.label[i];
    }
  }
  const labelLive = new Float64Array(model.labels.length);
  const labelPeak = new Float64Array(model.labels.length);
  let live = 0, peak = 0, peakAt = 0;
  for (let e = 0; e < n; e++) {
    const l = labelOf[e];
    if (l < 0) continue;
    labelLive[l] += labelDelta[e];
    if (labelLive[l] > labelPeak[l]) labelPeak[l] = labelLive[l];
    live += labelDelta[e];
    if (live > peak) {
      peak = live;
      peakAt = e;
    }
  }
  const order = Array.from(model.labels.keys()).filter((l: any) => labelPeak[l] > 0)
    .sort((x: any, y: any) => labelPeak[y] - labelPeak[x]);
  // The biggest labels get colours; stacked in order of first use, so what lives longest
  // (weights, caches) tends to lie at the bottom.
  const firstUse = new Float64Array(model.labels.length).fill(Infinity);
  for (let i = count - 1; i >= 0; i--) firstUse[a.label[i]] = a.start[i];
  const top = (order.slice(0, order.length > TOP ? TOP - 1 : TOP) as number[])
    .sort((x, y) => firstUse[x] - firstUse[y]);
  const groupOfLabel = new Int32Array(model.labels.length).fill(top.length);
  top.forEach((l, gIndex) => (groupOfLabel[l] = gIndex));
  const groups = top.map((l, i) => ({ name: model.labels[l], color: COLORS[i] }));
  if (order.length > top.length) {
    groups.push({ name: `other (${order.length - top.length} labels)`, color: OTHER });
  }
  const G = Math.max(1, groups.length);
  const groupOf = new Int32Array(n + 1).fill(-1);
  for (let e = 0; e < n; e++) if (labelOf[e] >= 0) groupOf[e] = groupOfLabel[labelOf[e]];
  const checkpoints = new Float64Array((Math.floor(n / CHECKPOINT) + 1) * G);
  const state = new Float64Array(G);
  for (let e = 0; e < n; e++) {
    if (e % CHECKPOINT === 0) checkpoints.set(state, (e / CHECKPOINT) * G);
    if (groupOf[e] >= 0) state[groupOf[e]] += labelDelta[e];
  }
  // Reservations: cumulative per pool after each step.
  const r = model.reservations;
  const pools = model.pools.length;
  const reservedAfter = new Float64Array(r.at.length);
  const running = new Float64Array(pools);
  let reservedPeak = 0;
  for (let i = 0; i < r.at.length; i++) {
    running[r.pool[i]] += r.delta[i];
    reservedAfter[i] = running[r.pool[i]];
    let sum = 0;
    for (let p = 0; p < pools; p++) sum += running[p];
    reservedPeak = Math.max(reservedPeak, sum);
  }
  const allocationGroup = new Int32Array(count);
  for (let i = 0; i < count; i++) allocationGroup[i] = groupOfLabel[a.label[i]];
  return {
    n,
    G,
    groups,
    delta: labelDelta,
    groupOf,
    checkpoints,
    reservedAfter,
    reservedPeak,
    peak,
    peakAt,
    allocationGroup,
    checkpoint: CHECKPOINT,
    otherColor: OTHER,
  };
}

export function columns(model: any, prep: any, x0: number, x1: number, W: number): any {
  const CHECKPOINT = prep.checkpoint;
  const { G, delta, groupOf, checkpoints } = prep;
  const stacks = new Float64Array(W * G);
  const totals = new Float64Array(W);
  const at = new Int32Array(W);
  const state = new Float64Array(G);
  let e = Math.max(0, Math.floor(x0));
  const c0 = Math.floor(e / CHECKPOINT);
  state.set(checkpoints.subarray(c0 * G, c0 * G + G));
  let total = 0;
  for (let k = 0; k < G; k++) total += state[k];
  for (let i = c0 * CHECKPOINT; i < e; i++) {
    if (groupOf[i] >= 0) {
      state[groupOf[i]] += delta[i];
      total += delta[i];
    }
  }
  const span = x1 - x0;
  for (let c = 0; c < W; c++) {
    const end = Math.min(prep.n, Math.floor(x0 + ((c + 1) * span) / W));
    let best = total, bestAt = e - 1;
    stacks.set(state, c * G);
    while (e < end) {
      const gi = groupOf[e];
      if (gi >= 0) {
        state[gi] += delta[e];
        total += delta[e];
        if (total > best) {
          best = total;
          bestAt = e;
          stacks.set(state, c * G);
        }
      }
      e++;
    }
    totals[c] = best;
    at[c] = Math.max(0, bestAt);
  }
  // Reserved bytes per pool: the column's highest.
  const r = model.reservations;
  const pools = model.pools.length;
  const reserved = new Float64Array(W * pools);
  const running = new Float64Array(pools);
  let lo = 0, hi = r.at.length;
  const first = Math.max(0, Math.floor(x0));
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r.at[mid] < first) lo = mid + 1;
    else hi = mid;
  }
  for (let p = 0; p < pools; p++) {
    for (let i = lo - 1; i >= 0; i--) {
      if (r.pool[i] === p) {
        running[p] = prep.reservedAfter[i];
        break;
      }
    }
  }
  let s = lo;
  for (let c = 0; c < W; c++) {
    const end = Math.min(prep.n, Math.floor(x0 + ((c + 1) * span) / W));
    for (let p = 0; p < pools; p++) reserved[c * pools + p] = running[p];
    while (s < r.at.length && r.at[s] < end) {
      running[r.pool[s]] = prep.reservedAfter[s];
      const cell = c * pools + r.pool[s];
      if (running[r.pool[s]] > reserved[cell]) reserved[cell] = running[r.pool[s]];
      s++;
    }
  }
  return { stacks, totals, at, reserved };
}

/** Live allocations after event `e`, in allocation order, optionally of one group. */
export function liveAt(model: any, prep: any, e: number, group = -1): number[] {
  const a = model.allocations;
  const out: number[] = [];
  for (let i = 0; i < a.start.length && a.start[i] <= e; i++) {
    if (a.end[i] > e && (group < 0 || prep.allocationGroup[i] === group)) out.push(i);
  }
  return out;
}
