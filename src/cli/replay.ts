/**
 * `deno task replay <trace.json.gz>...`: replays allocation traces through gpumem's pool over a
 * virtual upstream and prints peak reserved ÷ peak live, hit rate, upstream calls and time per
 * operation beside PyTorch's figures from the trace. `--json` prints one JSON object per trace;
 * `--fixed-segments` replays with segments that do not grow in place (PyTorch's default policy);
 * `--explain` adds where the reserved bytes are at the peak (asked for, rounding, free by size
 * class and stream, pending).
 *
 * @module
 */

import { formatBytes } from "../errors.ts";
import { peakBreakdown } from "../replay/peak_breakdown.ts";
import { readTrace, replayTrace } from "../replay/trace.ts";
import { formatTable } from "./table.ts";

if (import.meta.main) {
  const flags = ["--json", "--fixed-segments", "--explain"];
  const json = Deno.args.includes("--json");
  const explain = Deno.args.includes("--explain");
  const explained: string[][] = [];
  const expandableSegments = !Deno.args.includes("--fixed-segments");
  const paths = Deno.args.filter((arg) => !flags.includes(arg));
  if (paths.length === 0) {
    console.error(
      "usage: deno task replay [--json] [--fixed-segments] [--explain] <trace.json.gz>...",
    );
    Deno.exit(2);
  }
  const rows: string[][] = [];
  for (const path of paths) {
    const trace = await readTrace(path);
    const result = replayTrace(trace, { expandableSegments });
    if (explain) {
      const b = peakBreakdown(trace, { expandableSegments });
      const share = (bytes: number) =>
        `${formatBytes(bytes)} (${(100 * bytes / b.peakReserved).toFixed(1)}%)`;
      explained.push([
        trace.workload,
        String(b.event),
        formatBytes(b.reserved),
        share(b.requested),
        share(b.rounding),
        share(b.freeSmall),
        share(b.freeLarge),
        share(b.pending),
        share(b.laterGrowth),
        Object.entries(b.freeByStream).map(([s, bytes]) => `${s}: ${formatBytes(bytes)}`).join(
          ", ",
        ),
        formatBytes(b.largestFree),
      ]);
    }
    const torch = trace.torch ? trace.torch.max_reserved / trace.peak_live : NaN;
    const expandable = trace.torch_expandable
      ? trace.torch_expandable.max_reserved / trace.peak_live
      : NaN;
    if (json) {
      console.log(
        JSON.stringify({ ...result, torchRatio: torch, torchExpandableRatio: expandable }),
      );
      continue;
    }
    rows.push([
      result.workload,
      String(result.operations),
      formatBytes(result.peakLive),
      formatBytes(result.peakReserved),
      result.ratio.toFixed(3),
      torch.toFixed(3),
      expandable.toFixed(3),
      `${(result.hitRate * 100).toFixed(2)}%`,
      String(result.upstreamCalls),
      result.nsPerOp.toFixed(0),
    ]);
  }
  if (!json) {
    console.log(formatTable(
      [
        "trace",
        "events",
        "peak live",
        "peak reserved",
        "ratio",
        "torch",
        "torch exp.",
        "hit rate",
        "upstream",
        "ns/op",
      ],
      rows,
    ));
  }
  if (explained.length > 0) {
    console.log(
      "\nWhere the peak reserved bytes are: at the peak of live bytes (shares of the peak " +
        "reserved), and what was reserved after it:",
    );
    console.log(formatTable(
      [
        "trace",
        "event",
        "reserved",
        "asked for",
        "rounding",
        "free small",
        "free large",
        "pending",
        "grown later",
        "free by stream",
        "largest free",
      ],
      explained,
    ));
  }
}
