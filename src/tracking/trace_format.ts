/**
 * The allocation trace format: what the tracker's event log exports and what replay reads (the
 * format of ../shared/traces, recorded from PyTorch). Types only, so the tracker and replay share
 * it without depending on each other.
 *
 * @module
 */

/** One event: allocate `size` bytes as `id`, or free `id` (size 0), on a stream handle. */
export type TraceEvent = ["a" | "f", number, number, number];

/** PyTorch's own figures for a trace. */
export interface TorchFigures {
  /** torch.cuda.max_memory_allocated(). */
  max_allocated: number;
  /** torch.cuda.max_memory_reserved(). */
  max_reserved: number;
  /** Wall seconds of the training run. */
  seconds: number;
  /** PYTORCH_CUDA_ALLOC_CONF used. */
  alloc_conf: string;
}

/** A whole trace. */
export interface Trace {
  /** What ran. */
  workload: string;
  /** The events, in order. */
  events: TraceEvent[];
  /** The largest sum of live sizes over the trace. */
  peak_live: number;
  /** PyTorch's figures with its default allocator. */
  torch?: TorchFigures;
  /** PyTorch's figures with expandable segments. */
  torch_expandable?: TorchFigures;
}
