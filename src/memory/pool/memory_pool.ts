/**
 * MemoryPool: a caching allocator over any MemoryResource, after PyTorch's CUDA caching allocator.
 *
 * Segments come from the upstream and are cut into blocks (512 B rounding; with fixed segments,
 * small requests share 2 MiB ones); a freed block merges at once with free neighbours
 * (deferring that was measured: 1.27 and 1.76 × peak live on the ResNet and BERT traces instead
 * of 1.20 and 1.40) and is cached for reuse by best fit. A cached hit is pure TypeScript: a few
 * Map lookups, a pop, and at most one split. Blocks belong to the stream they were allocated on:
 * reused at once on that stream, and on another only after an event orders it behind the first.
 *
 * Over an AddressSpaceResource (CUDA's virtual memory API, host mmap, or the replays' virtual
 * upstream) segments grow in place, as PyTorch's expandable segments do: each stream reserves
 * one large address range, for every request size, and maps memory into it only where a request
 * needs it, next to free space it then merges with. Free space so never stays split across
 * segments, which is what wastes memory on real traces; and a growth that would raise the
 * pool's high-water mark first unmaps free pieces whose work is done (expandable_segments.ts),
 * which keeps peak reserved within 1.03 × peak live on workloads it was not tuned on.
 *
 * @module
 */

import type { Stream } from "../../cuda/stream.ts";
import type { MemInfo, MemoryDevice } from "../../device/types.ts";
import { GpumemError, InvalidArgumentError, type OutOfMemoryError } from "../../errors.ts";
import { checkByteCount } from "../../validate.ts";
import { type MemorySource, outOfMemoryError } from "../out_of_memory.ts";
import type { BlockResource, MemoryResource } from "../resource.ts";
import { type MemoryPoolOptions, resolvePoolOptions } from "./pool_options.ts";
import {
  type AddressSpaceResource,
  isAddressSpaceResource,
} from "../address_space/address_space_resource.ts";
import { Block, type Segment } from "./block.ts";
import { noteUse, PendingReuse } from "./pending_reuse.ts";
import { type MissHost, serveMiss } from "./pool_miss.ts";
import { closeRefusal, outOfMemoryLines } from "./pool_report.ts";
import { PoolAddresses } from "./pool_addresses.ts";
import { PoolLimit } from "./pool_limit.ts";
import type { StreamFreeLists } from "./stream_free_lists.ts";
import { PoolFreeLists } from "./pool_free_lists.ts";
import { cutAfter } from "./segment_carving.ts";
import { ExpandableSegments } from "./expandable_segments.ts";
import { FixedSegments } from "./fixed_segments.ts";
import type { SegmentSource } from "./segment_source.ts";
import { logPoolEvent, poolSegmentHost } from "./pool_segment_host.ts";
import type { GrowableRange } from "./growable_range.ts";
import { GrowableRanges } from "./growable_ranges.ts";
import { PoolTally } from "./pool_tally.ts";
import { roundRequest, shouldSplit, SMALL_REQUEST_MAX } from "./policy.ts";
import { EventOp } from "../../tracking/timeline.ts";
import { liveBlocksOf, snapshotPool } from "./pool_snapshot.ts";
import type { PoolSnapshot } from "../../snapshot/snapshot_format.ts";
import type { TrackedAllocation } from "../../tracking/tracker_node.ts";
import type { PoolStats } from "./pool_stats.ts";

export type { MemoryPoolOptions } from "./pool_options.ts";

/**
 * A caching pool. Use it as any MemoryResource (address in, address out), or through
 * DeviceBuffer, which takes the faster block path.
 *
 * @example
 * ```ts
 * import { DeviceBuffer, HostResource, MemoryPool } from "@gpumem/gpumem";
 * const pool = new MemoryPool(new HostResource(), { limit: "64MiB" });
 * for (let i = 0; i < 1000; i++) DeviceBuffer.allocate(4096, { resource: pool }).free();
 * console.log(pool.stats().cacheHits); // 999: one segment from the upstream, then the cache
 * ```
 */
export class MemoryPool implements BlockResource {
  /** The resource segments come from. */
  readonly upstream: MemoryResource;
  /** Whether its upstream's addresses hold no memory (then neither do its own). */
  get addressesOnly(): boolean {
    return this.upstream.addressesOnly === true;
  }
  /** The upstream's device. */
  readonly device: MemoryDevice;
  /** A name for messages. */
  readonly name: string;
  /** Whether {@linkcode MemoryPool.reserveGrowable} works here: the upstream maps in place. */
  get growsInPlace(): boolean {
    return isAddressSpaceResource(this.upstream);
  }
  /** Whether segments grow in place (see {@linkcode MemoryPoolOptions.expandableSegments}). */
  readonly expandableSegments: boolean;

  readonly #lists = new PoolFreeLists();
  /** Where segments come from: whole from the upstream, or ranges growing in place. */
  readonly #segmentSource: SegmentSource;
  /** Where the upstream's memory comes from (the device, or the system for pinned host memory). */
  readonly #source: MemorySource;
  readonly #segments = new Set<Segment>();
  readonly #addresses = new PoolAddresses();
  /** Freed blocks waiting for events on other streams before they may be reused. */
  readonly #pending = new PendingReuse();
  #closed = false;
  readonly #tally = new PoolTally();
  readonly #limit: PoolLimit;
  /** What the miss path (pool_miss.ts) uses of the pool. */
  readonly #missHost: MissHost;
  /** Open ranges of reserveGrowable. */
  readonly #growableRanges = new GrowableRanges({
    tally: this.#tally,
    admit: (bytes) => this.#admitGrowth(bytes),
    freeCache: () => this.freeCache(),
    log: (op, bytes) => logPoolEvent(this.name, op, bytes, 0n),
  });

  /** A pool over `upstream`. */
  constructor(upstream: MemoryResource, options: MemoryPoolOptions = {}) {
    const { name, expandableSegments } = resolvePoolOptions(upstream, options);
    this.upstream = upstream;
    this.device = upstream.device;
    this.name = name;
    this.expandableSegments = expandableSegments;
    this.#source = upstream.memInfo === undefined
      ? this.device
      : { id: upstream.name, memInfo: () => upstream.memInfo!() };
    this.#limit = new PoolLimit(this.#source, this.#tally);
    const host = poolSegmentHost({
      pool: this,
      device: this.device,
      segments: this.#segments,
      lists: this.#lists,
      tally: this.#tally,
      limit: this.#limit,
    });
    this.#segmentSource = this.expandableSegments
      ? new ExpandableSegments(upstream as AddressSpaceResource, host)
      : new FixedSegments(upstream, host);
    this.#missHost = {
      device: this.device,
      tally: this.#tally,
      lists: this.#lists,
      segments: this.#segmentSource,
      collectPending: () => this.#collectPending(),
      freeCache: () => this.freeCache(),
      outOfMemory: (size, failure) => this.#outOfMemory(size, failure),
    };
    if (options.limit !== undefined) this.limit = options.limit;
  }

  /** Most bytes the pool may reserve (Infinity: no limit). */
  get limit(): number {
    return this.#limit.bytes;
  }

  /** Sets the limit: bytes, "8GiB", "70%" of the device, or Infinity. */
  set limit(value: number | string) {
    this.#limit.set(value);
  }

  /** Allocates through the address API (DeviceBuffer takes a faster block path). */
  allocate(bytes: number, stream?: Stream): bigint {
    checkByteCount(bytes, "bytes");
    if (bytes === 0) return 0n;
    const block = this.allocateBlock(bytes, stream);
    this.#addresses.remember(block);
    return block.address;
  }

  /** Frees an address from {@linkcode MemoryPool.allocate}; foreign or double frees throw. */
  deallocate(address: bigint, bytes: number, stream?: Stream): void {
    if (address === 0n && bytes === 0) return;
    this.deallocateBlock(this.#addresses.take(address, bytes, this.name), stream);
  }

  /**
   * Hands out a block of at least `bytes` (> 0) bytes, ordered on `stream`. A cached hit makes no
   * upstream call. OutOfMemoryError, after freeing cached segments and retrying once, when neither
   * the limit nor the upstream allows more. The block path DeviceBuffer takes; not for users.
   *
   * @ignore
   */
  allocateBlock(bytes: number, stream?: Stream, label?: string): Block {
    // The hot path (a quick-listed block of this size) is kept small enough for V8 to inline it
    // into DeviceBuffer.allocate; everything else is in methods of its own.
    if (this.#closed || !(Number.isSafeInteger(bytes) && bytes > 0)) this.#rejectAllocation(bytes);
    const size = roundRequest(bytes);
    const key = stream ?? null;
    const lists = this.#lists.of(key);
    let block = lists.takeQuick(size);
    if (block !== null) this.#tally.hits++;
    else block = this.#takeCached(lists, size, key);
    block.allocated = true;
    block.requested = bytes;
    block.label = label;
    block.segment.allocatedBlocks++;
    const tally = this.#tally;
    tally.allocated.add(block.size);
    tally.requested.add(bytes);
    tally.allocations.add(1);
    return block;
  }

  /**
   * Takes back a block. Reusable at once on its segment's stream; if it was used on other
   * streams (recordStream, or freed on another stream), only after their work up to now is done.
   *
   * @ignore
   */
  deallocateBlock(block: Block, stream?: Stream): void {
    if (!(block instanceof Block) || block.segment.pool !== this || !block.allocated) {
      this.#rejectBlock(block);
    }
    if (stream !== undefined && stream !== block.segment.stream) this.recordStream(block, stream);
    block.allocated = false;
    block.segment.allocatedBlocks--;
    const tally = this.#tally;
    tally.allocated.sub(block.size);
    tally.requested.sub(block.requested);
    tally.allocations.sub(1);
    block.requested = 0;
    block.label = undefined;
    if (block.useStreams === null) this.#lists.keep(block);
    else this.#deferReuse(block);
  }

  /** Throws the error a bad allocateBlock call deserves. */
  #rejectAllocation(bytes: number): never {
    if (this.#closed) throw new GpumemError(`${this.name} was closed`);
    throw new InvalidArgumentError("bytes", "a positive safe integer", bytes);
  }

  /** Throws the error a bad deallocateBlock call deserves. */
  #rejectBlock(block: unknown): never {
    throw new InvalidArgumentError(
      "block",
      `a block ${this.name} handed out and not yet freed`,
      block,
    );
  }

  /**
   * A block for `size` bytes when no quick-listed one is there: best fit among cached blocks (the
   * quick lists merged back first), else new memory; split to size.
   */
  #takeCached(lists: StreamFreeLists, size: number, key: Stream | null): Block {
    // Segments that grow in place serve every size from one range per stream: free space then
    // never sits in one class while the other grows (ResNet 1.027 → 1.009 × peak live, BERT
    // 1.007 → 1.002; bench/RESULTS.md). Fixed segments keep PyTorch's small/large split.
    const small = size <= SMALL_REQUEST_MAX && !this.expandableSegments;
    // Another size: merge the quick blocks back first, so best fit sees what immediate
    // merging would have left (quick lists only serve runs of one size).
    if (lists.quickCount > 0) lists.flushQuick();
    let block = (small ? lists.small : lists.large).takeBestFit(size);
    if (block !== null) this.#tally.hits++;
    else {
      this.#tally.misses++;
      block = serveMiss(this.#missHost, size, small, key);
    }
    if (shouldSplit(block.size, size, small, block.segment.unmapped !== null)) {
      this.#split(block, size);
    }
    return block;
  }

  /** Holds a block used on other streams until their work up to now is done, else keeps it. */
  #deferReuse(block: Block): void {
    if (!this.#pending.defer(block, this.device)) this.#lists.keep(block);
  }

  /**
   * Marks `block` as used on `stream` too, so its reuse waits for that stream's work
   * (DeviceBuffer.recordStream's path).
   *
   * @ignore
   */
  recordStream(block: Block, stream: Stream): void {
    if (!(block instanceof Block) || block.segment.pool !== this || !block.allocated) {
      throw new InvalidArgumentError("block", `a live block of ${this.name}`, block);
    }
    // A stream of another device of this kind counts too: peer copies read device memory from
    // there, and pinned host memory serves every device's transfers.
    if (stream?.device?.kind !== this.device.kind) {
      throw new InvalidArgumentError("stream", `a Stream on a ${this.device.kind} device`, stream);
    }
    noteUse(block, stream);
  }

  /** Free and total bytes of the memory the upstream draws from (the device's, or the system's). */
  memInfo(): MemInfo {
    return this.#source.memInfo();
  }

  /** Allocated bytes over the limit (over device total memory when there is no limit), 0..1. */
  pressure(): number {
    return this.#limit.pressure();
  }

  /**
   * Gives unused memory back to the upstream, largest piece first, until at most `bytesToKeep`
   * stay reserved: whole unused segments, or, for segments growing in place, mapped pieces lying
   * wholly in free space (their address ranges stay reserved, costing no memory, until close(),
   * so growing again is a map, not a new reservation).
   */
  trim(bytesToKeep: number): void {
    checkByteCount(bytesToKeep, "bytesToKeep");
    this.#lists.flushQuick();
    this.#collectPending();
    this.#lists.prune();
    const before = this.#tally.reserved.current;
    this.#segmentSource.trim(bytesToKeep);
    if (this.#tally.reserved.current < before) {
      logPoolEvent(this.name, EventOp.trim, bytesToKeep, 0n);
    }
  }

  /** Gives every unused segment back to the upstream. */
  freeCache(): void {
    this.trim(0);
  }

  /** Waits for the device's work, then gives back everything unused (pending blocks included). */
  emergencyCleanup(): void {
    this.device.synchronize();
    this.freeCache();
  }

  /** A snapshot of the statistics (quick-listed blocks are merged first, so figures are final). */
  stats(): PoolStats {
    this.#lists.flushQuick();
    return this.#tally.stats(this.#lists.all());
  }

  /**
   * The pool as plain data: options, statistics and every segment with its blocks (allocated,
   * cached, pending or unmapped). Pass the tracker's live allocations (`tracker.live()`) to give
   * allocated blocks their sites, ages and ids; {@linkcode MemoryManager.snapshot} does.
   */
  snapshot(live: readonly TrackedAllocation[] = []): PoolSnapshot {
    return snapshotPool(this, this.#segments, live);
  }

  /** Sets every peak to its current value. */
  resetPeaks(): void {
    this.#tally.resetPeaks();
  }

  /**
   * Blocks handed out now, largest first (for reports).
   *
   * @ignore
   */
  liveBlocks(): Block[] {
    return liveBlocksOf(this.#segments);
  }

  /** Whether close() has run (a closed pool takes no allocations). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Gives all cached memory back and closes the pool. Refused (GpumemError naming the live
   * blocks) while any block is handed out: memory under a live buffer is never freed. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    const ranges = this.#growableRanges.size > 0 ? this.#growableRanges.describe() : undefined;
    const refusal = closeRefusal(this.name, this.liveBlocks(), ranges);
    if (refusal !== undefined) throw new GpumemError(refusal);
    this.emergencyCleanup();
    this.#segmentSource.close();
    this.#lists.close();
    this.#closed = true;
  }

  /** Same as {@linkcode MemoryPool.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * A range of `maxBytes` of address space of its own (rounded up to the granularity) whose
   * memory grows and shrinks in place, the base address never changing (ResizableBuffer's "vmm"
   * strategy). Its mapped bytes count as allocated and reserved here, under the pool's limit; the
   * pool cannot close while it is open. Needs an upstream that is an AddressSpaceResource
   * (InvalidArgumentError otherwise); reserves no memory until it grows. ResizableBuffer's; not
   * for users.
   *
   * @ignore
   */
  reserveGrowable(maxBytes: number, label?: string): GrowableRange {
    if (this.#closed) throw new GpumemError(`${this.name} was closed`);
    if (!isAddressSpaceResource(this.upstream)) {
      throw new InvalidArgumentError(
        "pool",
        "a pool over an AddressSpaceResource (CUDA VMM or host mmap)",
        this.name,
      );
    }
    return this.#growableRanges.reserve(this.upstream, maxBytes, label);
  }

  /** Throws OutOfMemoryError unless `bytes` more fit under the limit (the cache freed once). */
  #admitGrowth(bytes: number): void {
    if (this.#limit.refusal(bytes) === undefined) return;
    this.freeCache();
    const failure = this.#limit.refusal(bytes);
    if (failure !== undefined) throw this.#outOfMemory(bytes, failure);
  }

  #outOfMemory(size: number, failure: unknown): OutOfMemoryError {
    logPoolEvent(this.name, EventOp.outOfMemory, size, 0n);
    const extra = outOfMemoryLines(
      this.name,
      typeof failure === "string" ? failure : undefined,
      this.upstream.name,
      this.stats(),
      this.limit,
      this.liveBlocks(),
    );
    return outOfMemoryError(
      this.#source,
      size,
      typeof failure === "string" ? undefined : failure,
      extra,
    );
  }

  /** Cuts `block` to `size` bytes; the rest becomes a free, cached block after it. */
  #split(block: Block, size: number): void {
    this.#lists.file(cutAfter(block, size));
  }

  /** Files pending blocks whose events have all completed; returns how many. */
  #collectPending(): number {
    return this.#pending.size === 0 ? 0 : this.#pending.collect((block) => this.#lists.file(block));
  }
}
