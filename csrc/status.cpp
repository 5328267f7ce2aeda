#include "status.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace {
/* The latest failure's message, of whichever thread: Deno's nonblocking calls run on a worker
 * thread, so a message kept per thread was gone by the time JavaScript asked for it. */
std::mutex latest_mutex;
char latest_error[512] = "";
/* Each reader's copy, so that a failure on another thread cannot change it while it is read. */
thread_local char read_back[512] = "";
}  // namespace

extern "C" const char *gm_last_error(void) {
  std::lock_guard<std::mutex> lock(latest_mutex);
  std::memcpy(read_back, latest_error, sizeof read_back);
  return read_back;
}

extern "C" int gm_abi_version(void) { return GM_ABI_VERSION; }

int gm_fail(int status, const char *format, ...) {
  char message[sizeof latest_error];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
  std::lock_guard<std::mutex> lock(latest_mutex);
  std::memcpy(latest_error, message, sizeof latest_error);
  return status;
}

/* A success leaves the latest failure's message alone: a call succeeding on another thread must
 * not clear the one a failed call's caller is about to read. */
int gm_ok(void) { return GM_OK; }
