/**
 * Allocation sites: which stack frame is the user's, and how often to take one (a stack trace
 * costs ~24 µs in Deno, so sites are opt-in or sampled).
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
    return userFrame();
  }
}

/** V8's structured frames (the CallSite API), what a site is read from. */
interface CallSite {
  getFileName(): string | null | undefined;
  getFunctionName(): string | null;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
}

type PrepareStackTrace = ((error: Error, frames: CallSite[]) => unknown) | undefined;
const errorApi = Error as unknown as {
  prepareStackTrace: PrepareStackTrace;
  captureStackTrace(target: object, below?: unknown): void;
  stackTraceLimit: number;
};
const keepFrames: PrepareStackTrace = (_error, frames) => frames;

/**
 * The first frame of the current stack outside gpumem's own source, as `fn (file:line:column)`.
 * It reads V8's structured frames instead of formatting the whole stack as text (measured on
 * the development machine: ~10 µs instead of ~100 µs for `new Error().stack`).
 */
function userFrame(): string | undefined {
  const prepare = errorApi.prepareStackTrace;
  const limit = errorApi.stackTraceLimit;
  // gpumem's own frames can pass V8's default of 10 (a ResizableBuffer's first growth does).
  errorApi.stackTraceLimit = 64;
  errorApi.prepareStackTrace = keepFrames;
  const holder: { stack?: unknown } = {};
  try {
    errorApi.captureStackTrace(holder, userFrame);
    const frames = holder.stack;
    if (!Array.isArray(frames)) return undefined;
    for (const frame of frames as CallSite[]) {
      const file = frame.getFileName?.() ?? "";
      if (file === "" || isOwn(file)) continue;
      const where = `${file}:${frame.getLineNumber() ?? 0}:${frame.getColumnNumber() ?? 0}`;
      const name = frame.getFunctionName();
      return name ? `${name} (${where})` : where;
    }
    return undefined;
  } finally {
    errorApi.prepareStackTrace = prepare;
    errorApi.stackTraceLimit = limit;
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

/** Whether `file` (a URL or, for local modules, a path) is in gpumem's own source folders. */
function isOwn(file: string): boolean {
  return OWN_SOURCES.some((own) => file.startsWith(own));
}

/**
 * gpumem's own source folders, as URLs and (local modules) paths: a user's own src/memory/ is
 * not gpumem's.
 */
const OWN_SOURCES: readonly string[] = ["src/", "ffi/", "mod.ts"].flatMap((path) => {
  const url = new URL(`../../${path}`, import.meta.url);
  return url.protocol === "file:" ? [url.href, decodeURIComponent(url.pathname)] : [url.href];
});
