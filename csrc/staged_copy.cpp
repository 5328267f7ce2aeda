/* The stager: see staged_copy.h. */
#include "staged_copy.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "gpumem.h"
#include "status.h"

namespace {

/* Copies `bytes` with non-temporal stores where the CPU has them (SSE2, every x86-64), so the
 * written lines go to memory instead of staying dirty in the copying core's cache. Measured on
 * the H100 host: the copy engine reading lines dirty in other cores' caches is slow (a 4 MiB
 * array the workers had just downloaded into, registered, uploaded at 26-33 GB/s instead of
 * 49), which an upload's slots would otherwise always be; and a copy that does not read the
 * destination first moves ~20% more a core (9.6 -> 11.5 GB/s). */
void copy_streaming(unsigned char *to, const unsigned char *from, size_t bytes) {
#if defined(__x86_64__)
  if (bytes >= 4096) {
    size_t head = (16 - (reinterpret_cast<uintptr_t>(to) & 15)) & 15;
    std::memcpy(to, from, head);
    to += head, from += head, bytes -= head;
    size_t body = bytes & ~size_t(63);
    for (size_t at = 0; at < body; at += 64) {
      const __m128i *source = reinterpret_cast<const __m128i *>(from + at);
      __m128i a = _mm_loadu_si128(source), b = _mm_loadu_si128(source + 1);
      __m128i c = _mm_loadu_si128(source + 2), d = _mm_loadu_si128(source + 3);
      __m128i *target = reinterpret_cast<__m128i *>(to + at);
      _mm_stream_si128(target, a), _mm_stream_si128(target + 1, b);
      _mm_stream_si128(target + 2, c), _mm_stream_si128(target + 3, d);
    }
    _mm_sfence();  // the stores are visible before the DMA is queued or the piece counted done
    to += body, from += body, bytes -= body;
  }
#endif
  std::memcpy(to, from, bytes);
}

/* The driver types this file needs, as the driver's ABI defines them (no CUDA headers). */
typedef int CUresult;
typedef void *CUcontext;
typedef void *CUstream;
typedef void *CUevent;
typedef unsigned long long CUdeviceptr;
const unsigned CU_EVENT_DISABLE_TIMING = 2;

/* The driver entry points a stager calls, looked up once in the library ffi/cuda.ts opened. */
struct Driver {
  void *library = nullptr;
  CUresult (*ctx_get_current)(CUcontext *) = nullptr;
  CUresult (*ctx_set_current)(CUcontext) = nullptr;
  CUresult (*memcpy_htod_async)(CUdeviceptr, const void *, size_t, CUstream) = nullptr;
  CUresult (*memcpy_dtoh_async)(void *, CUdeviceptr, size_t, CUstream) = nullptr;
  CUresult (*event_create)(CUevent *, unsigned) = nullptr;
  CUresult (*event_destroy)(CUevent) = nullptr;
  CUresult (*event_record)(CUevent, CUstream) = nullptr;
  CUresult (*event_synchronize)(CUevent) = nullptr;
  CUresult (*stream_synchronize)(CUstream) = nullptr;

  /* Looks every symbol up; false (with the thread's last error set) when one is missing. */
  bool open(const char *path) {
    library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      gm_fail(GM_INVALID_ARGUMENT, "dlopen(%s) failed: %s", path, dlerror());
      return false;
    }
    return bind(ctx_get_current, "cuCtxGetCurrent") && bind(ctx_set_current, "cuCtxSetCurrent") &&
           bind(memcpy_htod_async, "cuMemcpyHtoDAsync_v2") &&
           bind(memcpy_dtoh_async, "cuMemcpyDtoHAsync_v2") &&
           bind(event_create, "cuEventCreate") && bind(event_destroy, "cuEventDestroy_v2") &&
           bind(event_record, "cuEventRecord") && bind(event_synchronize, "cuEventSynchronize") &&
           bind(stream_synchronize, "cuStreamSynchronize");
  }

  template <typename F>
  bool bind(F &function, const char *name) {
    function = reinterpret_cast<F>(dlsym(library, name));
    if (function == nullptr) gm_fail(GM_INVALID_ARGUMENT, "the driver lacks %s", name);
    return function != nullptr;
  }

  ~Driver() {
    if (library != nullptr) dlclose(library);
  }
};

/* One transfer, shared by the workers while gm_stager_run waits for them. */
struct Transfer {
  bool to_device = true;
  unsigned char *host = nullptr;
  uint64_t device = 0;
  uint64_t pieces = 0;
  std::vector<uint64_t> starts; /* piece i is [starts[i], starts[i + 1]) */
  const uint64_t *slots = nullptr; /* two per worker */
  CUstream stream = nullptr;
  const uint8_t *fail_pieces = nullptr; /* nonzero: the piece fails on purpose (tests) */
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  std::mutex report_lock;
  gm_stage_report report{};

  uint64_t offset(uint64_t index) const { return starts[index]; }
  uint64_t length(uint64_t index) const { return starts[index + 1] - starts[index]; }
  /* The next piece to move, or `pieces` when there is none (or the transfer failed). */
  uint64_t take() {
    if (failed.load(std::memory_order_relaxed)) return pieces;
    uint64_t index = next.fetch_add(1, std::memory_order_relaxed);
    return index < pieces ? index : pieces;
  }
  /* Keeps the first failure; later pieces are not started. */
  void fail(uint64_t index, CUresult result, gm_stage_call call) {
    std::lock_guard<std::mutex> guard(report_lock);
    if (!failed.load()) {
      report.failed_piece = index;
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

/* Where each piece of a `bytes`-byte transfer starts (and, last, `bytes`): the first is `first`
 * bytes, each next one a quarter larger (whole pages) up to `piece`. The workers start on the
 * first pieces together and the small ones land first, so the DMA engine gets work early; the
 * large ones later keep its per-copy cost (~2 us on an H100) small. */
std::vector<uint64_t> plan_pieces(uint64_t bytes, uint64_t first, uint64_t piece) {
  const uint64_t page = 4096;
  std::vector<uint64_t> starts{0};
  uint64_t size = first < piece ? first : piece;
  for (uint64_t at = 0; at < bytes;) {
    at += size < bytes - at ? size : bytes - at;
    starts.push_back(at);
    uint64_t next = (size + size / 4 + page - 1) / page * page;
    size = next < piece ? next : piece;
  }
  return starts;
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
  /* With a driver: two events per worker, one per staging slot. (All DMAs go to the caller's
   * stream: a stream per worker measured no faster on an H100, whose copy engine takes one
   * copy at a time either way.) */
  std::vector<CUevent> events;

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

  void upload(int worker, Transfer &t);
  void download(int worker, Transfer &t);
  void work(int worker, Transfer &t) {
    if (t.to_device) upload(worker, t);
    else download(worker, t);
  }
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

namespace {

/* One worker's part of a transfer: its two staging slots, each with the event of the last DMA
 * that used it. */
class Lane {
 public:
  Lane(gm_stager &stager, Transfer &t, int worker) : stager_(stager), t_(t) {
    for (int s = 0; s < 2; s++) {
      slots_[s] = {reinterpret_cast<unsigned char *>(t.slots[2 * worker + s]),
                   stager.has_driver ? stager.events[2 * worker + s] : nullptr, t.pieces};
    }
  }

  unsigned char *memory(int s) const { return slots_[s].memory; }

  /* Waits for slot `s`'s pending DMA, if any; false (failure recorded) when the driver fails. */
  bool settle(int s) {
    Slot &slot = slots_[s];
    if (slot.piece == t_.pieces) return true;
    uint64_t index = slot.piece;
    slot.piece = t_.pieces;
    if (!stager_.has_driver) return true;
    CUresult result = stager_.driver.event_synchronize(slot.event);
    if (result != 0) t_.fail(index, result, GM_CALL_EVENT_SYNCHRONIZE);
    return result == 0;
  }

  /* Queues the DMA of piece `index` between slot `s` and the device; false on failure. */
  bool queue_dma(int s, uint64_t index) {
    Slot &slot = slots_[s];
    uint64_t at = t_.offset(index), length = t_.length(index);
    if (t_.fail_pieces != nullptr && t_.fail_pieces[index] != 0) {
      t_.fail(index, 0, GM_CALL_NONE);
      return false;
    }
    if (!stager_.has_driver) {
      // Host memory alone: the "DMA" is a copy, done on return (nothing to settle).
      void *device = reinterpret_cast<void *>(t_.device + at);
      if (t_.to_device) std::memcpy(device, slot.memory, length);
      else std::memcpy(slot.memory, device, length);
      return true;
    }
    const Driver &driver = stager_.driver;
    CUresult result = t_.to_device
        ? driver.memcpy_htod_async(t_.device + at, slot.memory, length, t_.stream)
        : driver.memcpy_dtoh_async(slot.memory, t_.device + at, length, t_.stream);
    if (result != 0) {
      t_.fail(index, result, t_.to_device ? GM_CALL_MEMCPY_HTOD_ASYNC : GM_CALL_MEMCPY_DTOH_ASYNC);
      return false;
    }
    queued_ = true;
    result = driver.event_record(slot.event, t_.stream);
    if (result != 0) {
      t_.fail(index, result, GM_CALL_EVENT_RECORD);  // finish() waits for the whole stream
      return false;
    }
    slot.piece = index;
    return true;
  }

  /* Waits until no DMA the lane queued still runs (the whole stream after a failure, since a
   * DMA whose event could not be recorded is not watched by a slot). */
  void finish() {
    settle(0);
    settle(1);
    if (queued_ && t_.failed.load() && stager_.has_driver) {
      stager_.driver.stream_synchronize(t_.stream);
    }
  }

 private:
  struct Slot {
    unsigned char *memory;
    CUevent event;
    uint64_t piece; /* the piece whose DMA may still use the slot; t.pieces when none */
  };
  gm_stager &stager_;
  Transfer &t_;
  Slot slots_[2];
  bool queued_ = false;
};

}  // namespace

/* Host to device: copy a piece into a free slot, queue its DMA, take the next piece; the other
 * slot's DMA runs meanwhile. */
void gm_stager::upload(int worker, Transfer &t) {
  Lane lane(*this, t, worker);
  int s = 0;
  for (uint64_t index = t.take(); index < t.pieces; index = t.take(), s ^= 1) {
    if (!lane.settle(s)) break;
    copy_streaming(lane.memory(s), t.host + t.offset(index), t.length(index));
    if (!lane.queue_dma(s, index)) break;
    t.done.fetch_add(1, std::memory_order_relaxed);
  }
  lane.finish();
}

/* Device to host: queue the next piece's DMA into one slot, then copy out the piece whose DMA
 * went into the other slot once it has landed. */
void gm_stager::download(int worker, Transfer &t) {
  Lane lane(*this, t, worker);
  int s = 0;
  uint64_t current = t.take();
  if (current < t.pieces && !lane.queue_dma(s, current)) current = t.pieces;
  while (current < t.pieces) {
    uint64_t following = t.take();
    if (following < t.pieces && !lane.queue_dma(s ^ 1, following)) following = t.pieces;
    if (!lane.settle(s)) break;
    copy_streaming(t.host + t.offset(current), lane.memory(s), t.length(current));
    t.done.fetch_add(1, std::memory_order_relaxed);
    current = following;
    s ^= 1;
  }
  lane.finish();
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
    // Not asked (fewer pieces than threads): the transfer may already be over; leave it alone.
    int helpers = static_cast<int>(post & 0xffff);
    if (worker > helpers) continue;
    work(worker, *transfer.load());
    if (finished.fetch_add(1) + 1 == helpers) {
      std::lock_guard<std::mutex> guard(lock);
      idle.notify_one();
    }
  }
}

/* Posts `t` to as many pool threads as it has pieces for, works on it as worker 0, then waits
 * for those threads to finish it. */
void gm_stager::run(Transfer &t) {
  CUcontext previous = nullptr;
  if (has_driver) {
    driver.ctx_get_current(&previous);
    driver.ctx_set_current(context);
  }
  const int helpers = static_cast<int>(std::min<uint64_t>(t.pieces, threads) - (t.pieces > 0));
  if (helpers > 0) {
    transfer.store(&t);
    finished.store(0);
    {
      std::lock_guard<std::mutex> guard(lock);
      posted.store(((posted.load() >> 16) + 1) << 16 | static_cast<uint64_t>(helpers));
    }
    wake.notify_all();
  }
  work(0, t);
  if (helpers > 0) await(idle, [&] { return finished.load() == helpers; });
  transfer.store(nullptr);
  if (has_driver) driver.ctx_set_current(previous);
}

static void destroy(gm_stager *stager) {
  {
    std::lock_guard<std::mutex> guard(stager->lock);
    stager->closing.store(true);
  }
  stager->wake.notify_all();
  for (std::thread &thread : stager->pool) thread.join();
  for (CUevent event : stager->events) stager->driver.event_destroy(event);
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
    for (int i = 0; result == 0 && i < 2 * threads; i++) {
      CUevent event = nullptr;
      result = stager->driver.event_create(&event, CU_EVENT_DISABLE_TIMING);
      if (result == 0) stager->events.push_back(event);
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
  t.slots = slots;
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

extern "C" uint64_t gm_stage_pieces(uint64_t bytes, uint64_t first_piece, uint64_t piece,
                                    uint64_t *largest) {
  if (first_piece == 0 || piece == 0) return 0;
  std::vector<uint64_t> starts = plan_pieces(bytes, first_piece, piece);
  uint64_t most = 0;
  for (size_t i = 1; i < starts.size(); i++) most = std::max(most, starts[i] - starts[i - 1]);
  if (largest != nullptr) *largest = most;
  return starts.size() - 1;
}
