/* The particle step on the CUDA build: one thread a particle, the shared step (particles.h). */
#include "../cuda_launch.h"
#include "../cuda_scope.h"
#include "particles.h"

namespace {

__global__ void particles_step_kernel(uint64_t n, float *p, float *v, float dt, int substeps,
                                      float time) {
  GM_FOR_EACH(i, n) gm_particle_advance(p + 3 * i, v + 3 * i, dt, substeps, time);
}

}  // namespace

extern "C" int gm_particles_step(int device, uint64_t n, uint64_t positions, uint64_t velocities,
                                 float dt, int substeps, float time, void *stream) {
  if (n == 0) return gm_ok();
  if (positions == 0 || velocities == 0) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_particles_step: null address");
  }
  if (!(dt > 0.0f) || substeps < 1) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_particles_step: dt > 0 and substeps >= 1 expected");
  }
  GM_CUDA_SCOPE(device);
  const unsigned threads = 256;
  particles_step_kernel<<<gm_blocks_for(n, threads), threads, 0,
                          static_cast<cudaStream_t>(stream)>>>(
      n, reinterpret_cast<float *>(positions), reinterpret_cast<float *>(velocities), dt, substeps,
      time);
  return gm_launch_check("particles_step_kernel");
}
