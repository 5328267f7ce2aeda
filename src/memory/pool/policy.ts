/**
 * The pool's size policy, after PyTorch's caching allocator: requests round up to 512 B; requests
 * up to 1 MiB share 2 MiB segments; 1–10 MiB requests get 20 MiB segments; larger ones a segment
 * rounded up to 2 MiB.
 *
 * @module
 */

/** Every block size is a multiple of this. */
export const ROUND_BYTES = 512;
/** Requests up to this size are "small" and come from small segments. */
export const SMALL_REQUEST_MAX = 1 << 20;
/** Size of a small segment. */
export const SMALL_SEGMENT_BYTES = 2 << 20;
/** Requests below this size (and above SMALL_REQUEST_MAX) share a medium segment. */
export const MEDIUM_REQUEST_MAX = 10 << 20;
/** Size of the segment shared by medium requests. */
export const MEDIUM_SEGMENT_BYTES = 20 << 20;
/** Large segments are rounded up to a multiple of this. */
export const LARGE_SEGMENT_ROUND = 2 << 20;

/** `bytes` rounded up to a multiple of ROUND_BYTES (at least ROUND_BYTES). */
export function roundRequest(bytes: number): number {
  return bytes <= ROUND_BYTES ? ROUND_BYTES : Math.ceil(bytes / ROUND_BYTES) * ROUND_BYTES;
}

/** The segment size to ask the upstream for when no cached block fits `size` (rounded) bytes. */
export function segmentSizeFor(size: number): number {
  if (size <= SMALL_REQUEST_MAX) return SMALL_SEGMENT_BYTES;
  if (size < MEDIUM_REQUEST_MAX) return MEDIUM_SEGMENT_BYTES;
  return Math.ceil(size / LARGE_SEGMENT_ROUND) * LARGE_SEGMENT_ROUND;
}

/**
 * Whether a free block of `blockSize` serving `size` should be split: small blocks, and any block
 * of a segment that grows in place (whose free space merges across what would be separate
 * segments), keep any remainder of at least ROUND_BYTES; other large ones only a remainder above
 * SMALL_REQUEST_MAX, so fixed large segments are not shredded into pieces no large request can use.
 */
export function shouldSplit(
  blockSize: number,
  size: number,
  small: boolean,
  growable: boolean,
): boolean {
  const remainder = blockSize - size;
  return small || growable ? remainder >= ROUND_BYTES : remainder > SMALL_REQUEST_MAX;
}
