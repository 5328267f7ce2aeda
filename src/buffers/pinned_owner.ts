/**
 * Which typed arrays view pinned memory gpumem hands out: their ArrayBuffer carries its owner,
 * so a copy queued from or into one can tell the owner's pool to hold the memory until the copy
 * is done, and the owner lives as long as any view of it.
 *
 * @module
 */

import type { Stream } from "../cuda/stream.ts";
import type { HostArray } from "../validate.ts";

/** What owns a pinned ArrayBuffer: told about streams that use the memory. */
export interface PinnedOwner {
  /** After free, the memory is reused only once work queued on `stream` so far is done. */
  recordStream(stream: Stream): void;
}

const OWNER = Symbol("gpumem.pinnedOwner");

/** Links `memory` to `owner` (a non-enumerable property: views keep the owner alive). */
export function markPinned(memory: ArrayBuffer, owner: PinnedOwner): void {
  Object.defineProperty(memory, OWNER, { value: owner });
}

/** The owner of the pinned memory `array` views, if it views any. */
export function pinnedOwnerOf(array: HostArray): PinnedOwner | undefined {
  return (array.buffer as { [OWNER]?: PinnedOwner })[OWNER];
}
