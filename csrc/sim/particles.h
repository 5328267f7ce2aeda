/* The particle step both builds share: n particles pulled by three softened gravity wells that
 * circle the origin, damped, bouncing off the walls of [-1, 1]^3. One substep is
 *   a = sum_w s_w (c_w - x) / (|c_w - x|^2 + eps^2)^(3/2),  v += a dt,  v *= 1 - damping dt,
 *   x += v dt, then a wall reflects the position and halves the normal velocity.
 * Positions and velocities are float32 xyz triples; `time` places the wells. Written once so the
 * CPU build computes what the kernel computes (up to FMA contraction on the GPU). */
#ifndef GPUMEM_SIM_PARTICLES_H
#define GPUMEM_SIM_PARTICLES_H

#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define GM_SIM_HD __host__ __device__
#else
#define GM_SIM_HD
#endif

#define GM_PARTICLE_WELLS 3
#define GM_PARTICLE_SOFTENING 0.05f
#define GM_PARTICLE_DAMPING 0.2f

/* Well w's centre at `time` (radius 0.5, each a third of a turn apart, one turn per 2 pi s). */
GM_SIM_HD inline void gm_particle_well(int w, float time, float *c) {
  const float phase = time + 2.0943951f * (float)w;
  c[0] = 0.5f * cosf(phase);
  c[1] = 0.5f * sinf(phase);
  c[2] = 0.25f * sinf(2.0f * phase);
}

/* Advances particle i (p: its position, v: its velocity) by `substeps` steps of `dt`. */
GM_SIM_HD inline void gm_particle_advance(float *p, float *v, float dt, int substeps, float time) {
  float x = p[0], y = p[1], z = p[2], vx = v[0], vy = v[1], vz = v[2];
  for (int s = 0; s < substeps; s++) {
    const float t = time + (float)s * dt;
    float ax = 0.0f, ay = 0.0f, az = 0.0f;
    for (int w = 0; w < GM_PARTICLE_WELLS; w++) {
      float c[3];
      gm_particle_well(w, t, c);
      const float dx = c[0] - x, dy = c[1] - y, dz = c[2] - z;
      const float r2 = dx * dx + dy * dy + dz * dz + GM_PARTICLE_SOFTENING * GM_PARTICLE_SOFTENING;
      const float inv = 1.0f / (r2 * sqrtf(r2));
      const float strength = 0.3f + 0.1f * (float)w;
      ax += strength * dx * inv;
      ay += strength * dy * inv;
      az += strength * dz * inv;
    }
    const float keep = 1.0f - GM_PARTICLE_DAMPING * dt;
    vx = (vx + ax * dt) * keep;
    vy = (vy + ay * dt) * keep;
    vz = (vz + az * dt) * keep;
    x += vx * dt;
    y += vy * dt;
    z += vz * dt;
    if (x > 1.0f) { x = 2.0f - x; vx = -0.5f * vx; }
    if (x < -1.0f) { x = -2.0f - x; vx = -0.5f * vx; }
    if (y > 1.0f) { y = 2.0f - y; vy = -0.5f * vy; }
    if (y < -1.0f) { y = -2.0f - y; vy = -0.5f * vy; }
    if (z > 1.0f) { z = 2.0f - z; vz = -0.5f * vz; }
    if (z < -1.0f) { z = -2.0f - z; vz = -0.5f * vz; }
  }
  p[0] = x; p[1] = y; p[2] = z;
  v[0] = vx; v[1] = vy; v[2] = vz;
}

#endif
