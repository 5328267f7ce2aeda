/* Brute-force L2 for vectors of any dimension, the arithmetic both builds share so that they
 * agree bit for bit: a coordinate is read as float (float64 input less the corpus centre, in
 * double, first), and a squared distance is the sum over dimensions, in order, of
 * fmaf(a - b, a - b, sum). Differences rather than |a|^2 + |b|^2 - 2ab: exact to float rounding
 * however close the vectors are. (From GM_L2_MMA_MIN_DIM dimensions the CUDA build takes the
 * expansion on tensor cores and this sum only for near pairs; l2_mma_cuda.cu.) */
#ifndef GPUMEM_L2_STEPS_H
#define GPUMEM_L2_STEPS_H

#include <math.h>
#include <stdint.h>

#include "../axpy.h"

/* The largest k of a vector query. */
#define GM_VECTOR_MAX_K 1024

/* Select flags. */
enum gm_select_flag {
  GM_SELECT_FIRST = 1,        /* the first corpus tile: the lists start empty */
  GM_SELECT_LAST = 2,         /* the last: distances are written as square roots */
  GM_SELECT_EXCLUDE_SELF = 4, /* skip corpus index == query index (a self join) */
};

template <typename V>
GM_HOST_DEVICE inline float gm_vector_value(const V *data, uint64_t at, const double *centre,
                                            uint32_t k) {
  return centre ? static_cast<float>(static_cast<double>(data[at]) - centre[k])
                : static_cast<float>(data[at]);
}

GM_HOST_DEVICE inline float gm_l2_accumulate(float sum, float a, float b) {
  float d = a - b;
  return fmaf(d, d, sum);
}

/* Whether (d, i) comes before (bd, bi): nearer, or as near with the smaller index. */
GM_HOST_DEVICE inline bool gm_pair_less(float d, uint32_t i, float bd, uint32_t bi) {
  return d < bd || (d == bd && i < bi);
}

#endif
