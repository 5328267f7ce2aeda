/* The particle step on the CPU build: the shared step (particles.h) over all cores. */
#include "../gpumem.h"
#include "../parallel_for.h"
#include "../status.h"
#include "particles.h"

extern "C" int gm_particles_step(int /*device*/, uint64_t n, uint64_t positions,
                                 uint64_t velocities, float dt, int substeps, float time,
                                 void * /*stream*/) {
  if (n == 0) return gm_ok();
  if (positions == 0 || velocities == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_particles_step: null address");
  }
  if (!(dt > 0.0f) || substeps < 1) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_particles_step: dt > 0 and substeps >= 1 expected");
  }
  float *p = reinterpret_cast<float *>(positions);
  float *v = reinterpret_cast<float *>(velocities);
  gm_parallel_ranges(n, [=](uint64_t begin, uint64_t end, unsigned) {
    for (uint64_t i = begin; i < end; i++) gm_particle_advance(p + 3 * i, v + 3 * i, dt, substeps, time);
  });
  return gm_ok();
}
