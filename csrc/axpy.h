/* The arithmetic both builds share, so the CPU library computes exactly what the kernels do. */
#ifndef GPUMEM_AXPY_H
#define GPUMEM_AXPY_H

#if defined(__CUDACC__)
#define GM_HOST_DEVICE __host__ __device__
#else
#define GM_HOST_DEVICE
#endif

GM_HOST_DEVICE inline float gm_axpy_element(float a, float x, float y) { return a * x + y; }

#endif
