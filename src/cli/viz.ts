/**
 * `deno task viz <snapshot.json | trace.json[.gz] | torch_snapshot.pickle> [-o memory.html]`:
 * writes the memory viewer for a gpumem snapshot (manager.snapshot()), an allocation trace (the
 * format of shared/traces or tracker.exportTrace(), replayed through gpumem's pool) or a PyTorch
 * snapshot (torch.cuda.memory._dump_snapshot) as one self-contained HTML file, and prints its path.
 *
 * @module
 */

import { renderViewerPage } from "../viz/viewer_page.ts";
import { readViewerModel } from "../viz/viewer_sources.ts";

/** Reads `input`, writes the viewer to `output`; returns the page's size in bytes. */
export async function writeViewer(input: string, output: string): Promise<number> {
  const page = await renderViewerPage(await readViewerModel(input));
  await Deno.writeTextFile(output, page);
  return page.length;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const flag = args.indexOf("-o");
  const output = flag >= 0 ? args.splice(flag, 2)[1] : "memory.html";
  if (args.length !== 1 || output === undefined) {
    console.error(
      "usage: deno task viz <snapshot.json | trace.json[.gz] | snapshot.pickle> [-o memory.html]",
    );
    Deno.exit(2);
  }
  const started = performance.now();
  const bytes = await writeViewer(args[0], output);
  console.log(
    `wrote ${output} (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s: open it in a browser`,
  );
}
