/**
 * Opening a shared library from a list of candidates, with an environment override first.
 *
 * The loader never throws: it returns the opened library or every path it tried with the reason
 * each failed, so the caller can raise its own typed error (DriverUnavailableError, ...).
 *
 * @module
 */

import { readEnv } from "./env.ts";

/** One path the loader tried and why it failed. */
export interface LoadAttempt {
  /** The path or soname passed to dlopen. */
  path: string;
  /** Where the path came from. */
  source: "env" | "default";
  /** The dlopen error. */
  error: Error;
}

/** The result of {@linkcode openLibrary}. */
export type LoadResult<S extends Deno.ForeignLibraryInterface> =
  | { ok: true; library: Deno.DynamicLibrary<S>; path: string }
  | { ok: false; attempts: LoadAttempt[] };

/**
 * Opens the first library that loads: the path in `envVariable` when it is set (and then only
 * that path, so a wrong override is never silently replaced), else each of `candidates`.
 */
export function openLibrary<const S extends Deno.ForeignLibraryInterface>(
  symbols: S,
  envVariable: string,
  candidates: readonly string[],
): LoadResult<S> {
  const override = readEnv(envVariable);
  const paths = override !== undefined
    ? [{ path: override, source: "env" as const }]
    : candidates.map((path) => ({ path, source: "default" as const }));
  const attempts: LoadAttempt[] = [];
  for (const { path, source } of paths) {
    try {
      return { ok: true, library: Deno.dlopen(path, symbols), path };
    } catch (error) {
      attempts.push({ path, source, error: conciseError(error) });
    }
  }
  return { ok: false, attempts };
}

/** dlopen errors repeat "Could not open library: "; keep the system's own reason once. */
function conciseError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(message.replace(/^(?:Could not open library: )+/, ""), { cause: error });
}
