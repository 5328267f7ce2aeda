/* The stager's host-side copies: streaming stores, and dropping lines from every core's cache
 * (csrc/stage/host_copy.cpp says why each helps the copy engine). */
#ifndef GPUMEM_STAGE_HOST_COPY_H
#define GPUMEM_STAGE_HOST_COPY_H

#include <stddef.h>

namespace gm_stage {

/* Copies `bytes` with non-temporal stores where the CPU has them, memcpy elsewhere. */
void copy_streaming(unsigned char *to, const unsigned char *from, size_t bytes);
/* Drops the cache lines of `bytes` at `at` from every core's caches (a no-op off x86-64). */
void evict(const unsigned char *at, size_t bytes);

}  // namespace gm_stage

#endif
