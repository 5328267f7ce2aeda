/* The stager: see staged_copy.h. */
#include "staged_copy.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gpumem.h"
#include "stage/host_copy.h"
#include "stage/piece_plan.h"
#include "stage/stage_driver.h"
#include "status.h"

namespace {

using namespace gm_stage;

/* Staging slots a transfer cycles through (piece i uses slot i % slots): while the threads copy
 * one piece, the DMAs of up to three others are queued behind it. */
constexpr uint64_t kRingSlots = 4;
/* One staging slot: pinned memory and the event recorded after the last DMA queued through it.
 * The pieces are those of the transfer (-1: none yet). */
struct Slot {
  unsigned char *memory = nullptr;
  CUevent event = nullptr;
  std::atomic<int64_t> queued{-1};  /* the last piece whose DMA (and event) was queued */
  std::atomic<int64_t> waiter{-1};  /* the last piece a thread waits on the event for */
  std::atomic<int64_t> landed{-1};  /* the last piece whose DMA is known to be done */
};

/* One transfer, shared by the workers while gm_stager_run waits for them. */
struct Transfer {
  bool to_device = true;
  unsigned char *host = nullptr;
  uint64_t device = 0;
  uint64_t pieces = 0;
  std::vector<uint64_t> starts; /* piece i is [starts[i], starts[i + 1]) */
  std::vector<Slice> slices;    /* in the order the threads take them */
  std::unique_ptr<std::atomic<uint32_t>[]> unfinished; /* per piece: slices not copied yet */
  std::unique_ptr<Slot[]> ring;
  uint64_t ring_size = 0;
  CUstream stream = nullptr;
  const uint8_t *fail_pieces = nullptr; /* nonzero: the piece fails on purpose (tests) */
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  std::atomic<bool> queued_any{false}; /* a DMA was queued (the stream is waited for on failure) */
  std::mutex report_lock;
  gm_stage_report report{};

  uint64_t offset(uint64_t piece) const { return starts[piece]; }
  uint64_t length(uint64_t piece) const { return starts[piece + 1] - starts[piece]; }
  Slot &slot_of(uint64_t piece) const { return ring[piece % ring_size]; }
  /* The next slice to copy, or slices.size() when there is none (or the transfer failed). */
  uint64_t take() {
    if (failed.load(std::memory_order_relaxed)) return slices.size();
    uint64_t index = next.fetch_add(1, std::memory_order_relaxed);
    return index < slices.size() ? index : slices.size();
  }
  /* Keeps the first failure; later pieces are not started. */
  void fail(uint64_t piece, CUresult result, gm_stage_call call) {
    std::lock_guard<std::mutex> guard(report_lock);
    if (!failed.load()) {
      report.failed_piece = piece;
      report.cuda_result = static_cast<uint64_t>(result);
      report.call = call;
      failed.store(true);
    }
  }
};

/* Tells the core a spin-wait is polling (so a sibling hyperthread gets the pipeline). */
inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

struct gm_stager {
  Driver driver;
  bool has_driver = false;
  CUcontext context = nullptr;
  /* Workers per transfer: the calling thread (worker 0) and threads - 1 pool threads. */
  int threads = 0;
  /* How long an idle thread polls for the next transfer before it sleeps. */
  std::chrono::microseconds spin{0};
  std::vector<std::thread> pool;
  /* With a driver: one event per staging slot. (All DMAs go to the caller's stream: a stream
   * per thread measured no faster on an H100, whose copy engine takes one copy at a time.) */
  CUevent events[kRingSlots] = {};

  std::mutex lock;
  std::condition_variable wake;  /* a transfer was posted, or the stager is closing */
  std::condition_variable idle;  /* every pool thread asked finished the transfer */
  /* The latest transfer posted: its number << 16 | how many pool threads take part (worker
   * 1 to that), in one word so that a thread reads both at once. */
  std::atomic<uint64_t> posted{0};
  std::atomic<int> finished{0};
  std::atomic<bool> closing{false};
  std::atomic<Transfer *> transfer{nullptr};

  std::mutex running;  /* one transfer at a time */

  bool await_slot(Transfer &t, uint64_t piece);
  bool queue_dma(Transfer &t, uint64_t piece);
  void work(Transfer &t);
  void settle(Transfer &t);
  void loop(int worker);
  void run(Transfer &t);

  /* Polls `ready` for up to `spin`, then sleeps on `signal` until it holds: a transfer that
   * follows soon after another skips the wake-up, which costs tens of microseconds. */
  template <typename Ready>
  void await(std::condition_variable &signal, Ready ready) {
    auto until = std::chrono::steady_clock::now() + spin;
    while (!ready()) {
      relax();
      if (std::chrono::steady_clock::now() >= until) {
        std::unique_lock<std::mutex> guard(lock);
        signal.wait(guard, ready);
        return;
      }
    }
  }
};

/* Polls until `value` reaches `awaited`; false if the transfer fails first. */
static bool poll_until(const Transfer &t, const std::atomic<int64_t> &value, int64_t awaited) {
  for (unsigned spins = 0; value.load(std::memory_order_acquire) < awaited; spins++) {
    if (t.failed.load(std::memory_order_relaxed)) return false;
    if (spins < 4096) relax();
    else std::this_thread::yield();  // more threads than free cores: let the others run
  }
  return true;
}

/* Waits until a slice of `piece` may be copied: on upload, until the DMA that last used the
 * piece's slot has run; on download, until the piece's own DMA has landed. False (the failure
 * recorded, or another thread's seen) when it never will. */
bool gm_stager::await_slot(Transfer &t, uint64_t piece) {
  if (t.to_device && piece < t.ring_size) return true;  // the slot's first use in this transfer
  Slot &slot = t.slot_of(piece);
  const int64_t awaited = static_cast<int64_t>(t.to_device ? piece - t.ring_size : piece);
  // The DMA is queued by whichever thread copied the last slice before it: a short wait.
  if (!poll_until(t, slot.queued, awaited)) return false;
  if (!has_driver || slot.landed.load(std::memory_order_acquire) >= awaited) return true;
  // One thread waits on the event, the others for its word: a dozen threads in
  // cuEventSynchronize on one event measured slower (4 MiB downloads 18-19 GB/s, against 20-21).
  if (slot.waiter.exchange(awaited) == awaited) return poll_until(t, slot.landed, awaited);
  CUresult result = driver.event_synchronize(slot.event);
  if (result != 0) {
    t.fail(static_cast<uint64_t>(awaited), result, GM_CALL_EVENT_SYNCHRONIZE);
    return false;
  }
  slot.landed.store(awaited, std::memory_order_release);
  return true;
}

/* Queues the DMA of `piece` between its slot and the device and records the slot's event;
 * false on failure (no new piece starts once one failed). */
bool gm_stager::queue_dma(Transfer &t, uint64_t piece) {
  if (t.failed.load()) return false;
  if (t.fail_pieces != nullptr && t.fail_pieces[piece] != 0) {
    t.fail(piece, 0, GM_CALL_NONE);
    return false;
  }
  Slot &slot = t.slot_of(piece);
  const uint64_t at = t.offset(piece), length = t.length(piece);
  if (!has_driver) {
    // Host memory alone: the "DMA" is a copy, done on return (its event never waited for).
    void *device = reinterpret_cast<void *>(t.device + at);
    if (t.to_device) std::memcpy(device, slot.memory, length);
    else std::memcpy(slot.memory, device, length);
  } else {
    CUresult result = t.to_device
        ? driver.memcpy_htod_async(t.device + at, slot.memory, length, t.stream)
        : driver.memcpy_dtoh_async(slot.memory, t.device + at, length, t.stream);
    if (result != 0) {
      t.fail(piece, result, t.to_device ? GM_CALL_MEMCPY_HTOD_ASYNC : GM_CALL_MEMCPY_DTOH_ASYNC);
      return false;
    }
    t.queued_any.store(true);
    result = driver.event_record(slot.event, t.stream);
    if (result != 0) {
      t.fail(piece, result, GM_CALL_EVENT_RECORD);  // settle() waits for the whole stream
      return false;
    }
  }
  slot.queued.store(static_cast<int64_t>(piece), std::memory_order_release);
  return true;
}

/* One worker's part: take the next slice, wait for its slot, copy it; whoever copies a piece's
 * last slice queues the DMA that follows (upload: that piece's; download: the piece the slot
 * takes next). */
void gm_stager::work(Transfer &t) {
  for (uint64_t index = t.take(); index < t.slices.size(); index = t.take()) {
    const Slice &slice = t.slices[index];
    if (!await_slot(t, slice.piece)) break;
    unsigned char *staged = t.slot_of(slice.piece).memory + (slice.begin - t.offset(slice.piece));
    const uint64_t bytes = slice.end - slice.begin;
    if (t.to_device) {
      copy_streaming(staged, t.host + slice.begin, bytes);
    } else {
      copy_streaming(t.host + slice.begin, staged, bytes);
      if (has_driver) evict(staged, bytes);  // only a copy engine pays for cached lines
    }
    if (t.unfinished[slice.piece].fetch_sub(1, std::memory_order_acq_rel) != 1) continue;
    if (t.to_device) {
      if (!queue_dma(t, slice.piece)) break;
      t.done.fetch_add(1, std::memory_order_relaxed);
    } else {
      t.done.fetch_add(1, std::memory_order_relaxed);
      uint64_t following = slice.piece + t.ring_size;
      if (following < t.pieces && !queue_dma(t, following)) break;
    }
  }
}

/* Waits until none of the transfer's DMAs still runs: each slot's last one, and the whole
 * stream after a failure (a DMA whose event could not be recorded is not watched by a slot). */
void gm_stager::settle(Transfer &t) {
  if (!has_driver || !t.queued_any.load()) return;
  for (uint64_t s = 0; s < t.ring_size; s++) {
    if (t.ring[s].queued.load() <= t.ring[s].landed.load()) continue;
    CUresult result = driver.event_synchronize(t.ring[s].event);
    if (result != 0) {
      t.fail(static_cast<uint64_t>(t.ring[s].queued.load()), result, GM_CALL_EVENT_SYNCHRONIZE);
    }
  }
  if (t.failed.load()) driver.stream_synchronize(t.stream);
}

void gm_stager::loop(int worker) {
  // The context stays current on this thread for the stager's life; without it the worker's
  // first driver call fails, and that failure is reported.
  if (has_driver) driver.ctx_set_current(context);
  uint64_t seen = 0;
  for (;;) {
    await(wake, [&] { return closing.load() || (posted.load() >> 16) != seen; });
    if (closing.load()) return;
    uint64_t post = posted.load();
    seen = post >> 16;
    // Not asked (fewer slices than threads): the transfer may already be over; leave it alone.
    int helpers = static_cast<int>(post & 0xffff);
    if (worker > helpers) continue;
    work(*transfer.load());
    if (finished.fetch_add(1) + 1 == helpers) {
      std::lock_guard<std::mutex> guard(lock);
      idle.notify_one();
    }
  }
}

/* Posts `t` to as many pool threads as it has slices for, queues a download's first DMAs,
 * works on it as worker 0, then waits for those threads and for the DMAs. */
void gm_stager::run(Transfer &t) {
  CUcontext previous = nullptr;
  if (has_driver) {
    driver.ctx_get_current(&previous);
    driver.ctx_set_current(context);
  }
  const uint64_t slices = t.slices.size();
  const int helpers = static_cast<int>(std::min<uint64_t>(slices, threads) - (slices > 0));
  if (helpers > 0) {
    transfer.store(&t);
    finished.store(0);
    {
      std::lock_guard<std::mutex> guard(lock);
      posted.store(((posted.load() >> 16) + 1) << 16 | static_cast<uint64_t>(helpers));
    }
    wake.notify_all();
  }
  if (!t.to_device) {
    for (uint64_t piece = 0; piece < t.ring_size && queue_dma(t, piece); piece++) {}
  }
  work(t);
  if (helpers > 0) await(idle, [&] { return finished.load() == helpers; });
  transfer.store(nullptr);
  settle(t);
  if (has_driver) driver.ctx_set_current(previous);
}

static void destroy(gm_stager *stager) {
  {
    std::lock_guard<std::mutex> guard(stager->lock);
    stager->closing.store(true);
  }
  stager->wake.notify_all();
  for (std::thread &thread : stager->pool) thread.join();
  for (CUevent event : stager->events) {
    if (event != nullptr) stager->driver.event_destroy(event);
  }
  delete stager;
}

extern "C" int gm_stager_create(const char *driver_library, void *context, int threads,
                                int spin_us, uint64_t *out) {
  if (out == nullptr) return gm_fail(GM_INVALID_ARGUMENT, "out is NULL");
  if (threads < 1 || threads > 256) {
    return gm_fail(GM_INVALID_ARGUMENT, "threads must be 1 to 256, not %d", threads);
  }
  if (spin_us < 0) return gm_fail(GM_INVALID_ARGUMENT, "spin_us must not be negative");
  gm_stager *stager = new gm_stager();
  stager->threads = threads;
  stager->spin = std::chrono::microseconds(spin_us);
  if (driver_library != nullptr) {
    if (context == nullptr) {
      delete stager;
      return gm_fail(GM_INVALID_ARGUMENT, "a driver stager needs a context");
    }
    if (!stager->driver.open(driver_library)) {
      delete stager;
      return GM_INVALID_ARGUMENT;
    }
    stager->has_driver = true;
    stager->context = context;
    CUcontext previous = nullptr;
    stager->driver.ctx_get_current(&previous);
    CUresult result = stager->driver.ctx_set_current(context);
    for (uint64_t i = 0; result == 0 && i < kRingSlots; i++) {
      result = stager->driver.event_create(&stager->events[i], CU_EVENT_DISABLE_TIMING);
    }
    stager->driver.ctx_set_current(previous);
    if (result != 0) {
      destroy(stager);
      return gm_fail(GM_CUDA_ERROR, "creating the stager's events failed: CUresult %d",
                     result);
    }
  }
  for (int worker = 1; worker < threads; worker++) {
    stager->pool.emplace_back([stager, worker] { stager->loop(worker); });
  }
  *out = reinterpret_cast<uint64_t>(stager);
  return gm_ok();
}

extern "C" int gm_stager_destroy(uint64_t handle) {
  if (handle == 0) return gm_fail(GM_INVALID_ARGUMENT, "no stager");
  destroy(reinterpret_cast<gm_stager *>(handle));
  return gm_ok();
}

extern "C" int gm_stager_run(uint64_t handle, int to_device, void *host, uint64_t device,
                             uint64_t bytes, uint64_t first_piece, uint64_t piece,
                             const uint64_t *slots, void *stream, const uint8_t *fail_pieces,
                             uint64_t *report) {
  if (handle == 0 || host == nullptr || slots == nullptr || report == nullptr || piece == 0 ||
      first_piece == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_stager_run: missing argument");
  }
  gm_stager &stager = *reinterpret_cast<gm_stager *>(handle);
  std::lock_guard<std::mutex> one_at_a_time(stager.running);
  Transfer t;
  t.to_device = to_device != 0;
  t.host = static_cast<unsigned char *>(host);
  t.device = device;
  t.starts = plan_pieces(bytes, first_piece, piece);
  t.pieces = t.starts.size() - 1;
  t.slices = plan_slices(t.starts, stager.threads);
  t.unfinished.reset(new std::atomic<uint32_t>[t.pieces]());
  for (const Slice &slice : t.slices) t.unfinished[slice.piece].fetch_add(1);
  t.ring_size = std::min<uint64_t>(t.pieces, kRingSlots);
  t.ring.reset(new Slot[t.ring_size]);
  for (uint64_t s = 0; s < t.ring_size; s++) {
    t.ring[s].memory = reinterpret_cast<unsigned char *>(slots[s]);
    t.ring[s].event = stager.events[s];
  }
  t.stream = stream;
  t.fail_pieces = fail_pieces;
  t.report.failed_piece = UINT64_MAX;
  stager.run(t);
  t.report.pieces_done = t.done.load();
  std::memcpy(report, &t.report, sizeof t.report);
  if (!t.failed.load()) return gm_ok();
  return t.report.call == GM_CALL_NONE ? gm_fail(GM_INJECTED_FAULT, "injected piece failure")
                                       : gm_fail(GM_CUDA_ERROR, "a staged copy's driver call failed");
}

extern "C" int gm_stage_plan(uint64_t bytes, uint64_t first_piece, uint64_t piece,
                             uint64_t *plan) {
  if (first_piece == 0 || piece == 0 || plan == nullptr) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_stage_plan: a zero piece size or no plan");
  }
  std::vector<uint64_t> starts = plan_pieces(bytes, first_piece, piece);
  uint64_t largest = 0;
  for (size_t i = 1; i < starts.size(); i++) largest = std::max(largest, starts[i] - starts[i - 1]);
  plan[0] = starts.size() - 1;
  plan[1] = std::min<uint64_t>(plan[0], kRingSlots);
  plan[2] = largest;
  return gm_ok();
}
