/**
 * Allocation sites: which stack frame is the user's, and how often to take one (a stack trace
 * costs ~30 µs in Deno, so sites are opt-in or sampled).
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";

/** How much the tracker records of where allocations come from. */
export type SiteCapture = "off" | "on" | { sample: number };

/** Takes sites as `mode` says: every allocation, none, or one in `sample`. */
export class SiteSampler {
  /** The mode, as checked. */
  readonly mode: SiteCapture;
  #countdown = 0;

  /** A sampler for `mode`; InvalidArgumentError for anything that is no SiteCapture. */
  constructor(mode: SiteCapture) {
    this.mode = checkSites(mode);
  }

  /** The user's frame of the current stack, or undefined (sampled out, or none found). */
  capture(): string | undefined {
    const mode = this.mode;
    if (mode === "off") return undefined;
    if (mode !== "on") {
      if (this.#countdown-- > 0) return undefined;
      this.#countdown = mode.sample - 1;
    }
    // gpumem's own frames can pass V8's default of 10 (a ResizableBuffer's first growth does).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 64;
    const stack = new Error().stack ?? "";
    Error.stackTraceLimit = limit;
    return siteOf(stack);
  }
}

export function checkSites(value: SiteCapture): SiteCapture {
  if (value === "off" || value === "on") return value;
  if (
    typeof value === "object" && value !== null && Number.isSafeInteger(value.sample) &&
    value.sample >= 1
  ) {
    return { sample: value.sample };
  }
  throw new InvalidArgumentError("sites", '"off", "on" or { sample: N ≥ 1 }', value);
}

/** The first stack frame outside gpumem's own source: the user's line. */
function siteOf(stack: string): string | undefined {
  for (const line of stack.split("\n").slice(1)) {
    const frame = line.trim().replace(/^at /, "");
    if (!OWN_SOURCES.some((own) => frame.includes(own))) return frame;
  }
  return undefined;
}

/** gpumem's own source folders, by URL (a user's own src/memory/ is not gpumem's). */
const OWN_SOURCES: readonly string[] = ["src/", "ffi/", "mod.ts"].map((path) =>
  new URL(`../../${path}`, import.meta.url).href
);
