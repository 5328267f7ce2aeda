#include "status.h"

#include <cstdarg>
#include <cstdio>

namespace {
thread_local char last_error[512] = "";
}

extern "C" const char *gm_last_error(void) { return last_error; }

extern "C" int gm_abi_version(void) { return GM_ABI_VERSION; }

int gm_fail(int status, const char *format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(last_error, sizeof last_error, format, args);
  va_end(args);
  return status;
}

int gm_ok(void) {
  last_error[0] = '\0';
  return GM_OK;
}
