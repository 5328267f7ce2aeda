/**
 * The C library, opened once for the process: mmap for host virtual memory, memcpy on worker
 * threads for transfer staging.
 *
 * @module
 */

import {
  type LibcSymbols,
  libcSymbols,
  MMAP_CONSTANTS,
  type MmapConstants,
} from "../../ffi/libc.ts";
import { LibraryUnavailableError } from "../errors.ts";

/** The opened C library with its system's constants. */
export interface OpenLibc {
  /** The bound symbols. */
  symbols: LibcSymbols;
  /** mmap's constants on this system. */
  constants: MmapConstants;
}

let libc: OpenLibc | null = null;

/** The C library, opened once; LibraryUnavailableError on a system gpumem does not bind it on. */
export function openLibc(): OpenLibc {
  if (libc !== null) return libc;
  const constants = MMAP_CONSTANTS[Deno.build.os];
  if (constants === undefined) {
    throw new LibraryUnavailableError(
      `gpumem binds the C library on Linux and macOS, not ${Deno.build.os}`,
      [],
    );
  }
  try {
    libc = { symbols: Deno.dlopen(constants.library, libcSymbols).symbols, constants };
  } catch (error) {
    throw new LibraryUnavailableError("the C library could not be opened:", [
      { path: constants.library, source: "default", error: error as Error },
    ]);
  }
  return libc;
}

/** The C library if it is open or can be opened now, else null (no FFI permission, other OS). */
export function libcIfAvailable(): OpenLibc | null {
  if (libc !== null) return libc;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  try {
    return openLibc();
  } catch {
    return null;
  }
}

// Opened at import when FFI is already allowed (querySync never prompts): libc stays loaded for
// the process anyway, and opening it inside a user's Deno.test would trip the resource sanitizer.
libcIfAvailable();
