/**
 * Segments taken whole from any resource and given back whole when unused (PyTorch's default
 * policy; see segment_source.ts).
 *
 * @module
 */

import type { Stream } from "../../cuda/stream.ts";
import type { MemoryResource } from "../resource.ts";
import { type Block, Segment } from "./block.ts";
import { segmentSizeFor } from "./policy.ts";
import { isUnused } from "./segment_carving.ts";
import type { SegmentHost, SegmentSource } from "./segment_source.ts";

/** Whole segments of `upstream`. */
export class FixedSegments implements SegmentSource {
  readonly #upstream: MemoryResource;
  readonly #host: SegmentHost;

  /** Segments from `upstream`, counted in `host`. */
  constructor(upstream: MemoryResource, host: SegmentHost) {
    this.#upstream = upstream;
    this.#host = host;
  }

  /** A new segment sized for `size` (small requests share 2 MiB ones). */
  grow(size: number, small: boolean, key: Stream | null): Block | string {
    const host = this.#host;
    const segmentSize = segmentSizeFor(size);
    const refused = host.overLimit(segmentSize);
    if (refused !== undefined) return refused;
    host.upstreamCall();
    const address = this.#upstream.allocate(segmentSize, key ?? undefined);
    const segment = new Segment(address, segmentSize, key, small);
    host.adopt(segment);
    host.took(segmentSize, address);
    return segment.first;
  }

  /** Frees unused segments, largest first. */
  trim(bytesToKeep: number): void {
    const host = this.#host;
    const unused = [...host.segments].filter(isUnused).sort((a, b) => b.size - a.size);
    for (const segment of unused) {
      if (host.reservedBytes() <= bytesToKeep) break;
      const lists = host.listsFor(segment.stream);
      (segment.small ? lists.small : lists.large).remove(segment.first);
      host.drop(segment);
      host.upstreamCall();
      this.#upstream.deallocate(segment.address, segment.size, segment.stream ?? undefined);
      host.gave(segment.size, segment.address);
    }
  }

  /** Nothing stays behind a trim(0). */
  close(): void {}
}
