/**
 * The few libc calls gpumem makes: host virtual memory (reserve address space, map and unmap pages
 * in it), as one declarative `Deno.dlopen` table, with the constants of the two systems it
 * supports.
 *
 * @module
 */

/** Symbol table for the C library. */
export const libcSymbols = {
  /** void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) */
  mmap: {
    parameters: [
      "pointer", /* void *addr: NULL, or the exact address with MAP_FIXED */
      "usize", /* size_t length */
      "i32", /* int prot */
      "i32", /* int flags */
      "i32", /* int fd: -1 for anonymous memory */
      "i64", /* off_t offset: 0 */
    ],
    result: "pointer",
  },
  /** int munmap(void *addr, size_t length) */
  munmap: { parameters: ["pointer", /* void *addr */ "usize" /* size_t length */], result: "i32" },
  /** int *__errno_location(void): glibc's per-thread errno */
  __errno_location: { parameters: [], result: "pointer", optional: true },
  /** int *__error(void): macOS's per-thread errno */
  __error: { parameters: [], result: "pointer", optional: true },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened C library's symbols. */
export type LibcSymbols = Deno.DynamicLibrary<typeof libcSymbols>["symbols"];

/** mmap's protection and flag bits on one system. */
export interface MmapConstants {
  /** The C library to open. */
  readonly library: string;
  /** PROT_NONE: reserved, inaccessible. */
  readonly PROT_NONE: number;
  /** PROT_READ | PROT_WRITE. */
  readonly PROT_READ_WRITE: number;
  /** MAP_PRIVATE | MAP_ANONYMOUS. */
  readonly MAP_PRIVATE_ANONYMOUS: number;
  /** MAP_FIXED: replace what is at the address. */
  readonly MAP_FIXED: number;
  /** MAP_NORESERVE: no swap is reserved for the range. */
  readonly MAP_NORESERVE: number;
}

/** mmap constants for Linux (glibc) and macOS; undefined elsewhere. */
export const MMAP_CONSTANTS: Partial<Record<typeof Deno.build.os, MmapConstants>> = {
  linux: {
    library: "libc.so.6",
    PROT_NONE: 0,
    PROT_READ_WRITE: 0x1 | 0x2,
    MAP_PRIVATE_ANONYMOUS: 0x02 | 0x20,
    MAP_FIXED: 0x10,
    MAP_NORESERVE: 0x4000,
  },
  darwin: {
    library: "libSystem.B.dylib",
    PROT_NONE: 0,
    PROT_READ_WRITE: 0x1 | 0x2,
    MAP_PRIVATE_ANONYMOUS: 0x0002 | 0x1000,
    MAP_FIXED: 0x0010,
    MAP_NORESERVE: 0x0040,
  },
};

/** mmap's failure value, (void *)-1. */
export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
