/* The CPU build of brute-force L2 (l2_steps.h): the same tiles, centre and selection as the
 * CUDA build, as parallel loops, with the same float arithmetic in the same order, so both
 * builds return the same distances and neighbours. Done on return. */
#include <algorithm>
#include <cstring>
#include <vector>

#include "../gpumem.h"
#include "../parallel_for.h"
#include "../status.h"
#include "l2_steps.h"
#include "l2_tensor.h"

namespace {

/* One query row against corpus rows [0, n): built twice, with FMA instructions where the CPU has
 * them (fmaf is a library call otherwise). */
template <typename V>
__attribute__((target_clones("fma", "default"))) void l2_row(
    const V *q, const V *corpus, uint64_t n, uint32_t dim, const double *centre, int squared,
    float *out, std::vector<float> &a) {
  for (uint32_t k = 0; k < dim; k++) a[k] = gm_vector_value(q, k, centre, k);
  for (uint64_t j = 0; j < n; j++) {
    const V *c = corpus + j * dim;
    float sum = 0.0f;
    for (uint32_t k = 0; k < dim; k++) sum = gm_l2_accumulate(sum, a[k], gm_vector_value(c, k, centre, k));
    out[j] = squared ? sum : sqrtf(sum);
  }
}

/* A value as a tensor core sees it: rounded to tf32's 10 mantissa bits to nearest, ties away
 * from zero (cvt.rna, as the CUDA build rounds), to bf16's 7 to nearest even, or converted to
 * fp16. */
float tensor_round(float v, int precision) {
  if (precision == GM_PRECISION_FP16) return static_cast<float>(static_cast<_Float16>(v));
  int drop = precision == GM_PRECISION_TF32 ? 13 : 16;
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  if ((bits & 0x7F800000u) != 0x7F800000u) {
    uint32_t half = 1u << (drop - 1);
    uint32_t tie_up = precision == GM_PRECISION_TF32 ? 1u : (bits >> drop) & 1u;
    bits = (bits + half - 1 + tie_up) & ~((1u << drop) - 1);
  }
  std::memcpy(&v, &bits, 4);
  return v;
}

/* The expansion of the tensor-core precisions: norms and products of the rounded values, in
 * float (the tensor cores' accumulation order differs, so the builds agree to rounding only). */
template <typename V>
__attribute__((target_clones("fma", "default"))) void l2_row_expanded(
    const V *q, const V *corpus, uint64_t n, uint32_t dim, const double *centre, int squared,
    int precision, float *out, std::vector<float> &a, std::vector<float> &b) {
  float qn = 0.0f;
  for (uint32_t k = 0; k < dim; k++) {
    a[k] = tensor_round(gm_vector_value(q, k, centre, k), precision);
    qn = fmaf(a[k], a[k], qn);
  }
  for (uint64_t j = 0; j < n; j++) {
    float cn = 0.0f, dot = 0.0f;
    for (uint32_t k = 0; k < dim; k++) {
      b[k] = tensor_round(gm_vector_value(corpus + j * dim, k, centre, k), precision);
      cn = fmaf(b[k], b[k], cn);
      dot = fmaf(a[k], b[k], dot);
    }
    float d2 = std::max(qn + cn - 2.0f * dot, 0.0f);
    out[j] = squared ? d2 : sqrtf(d2);
  }
}

template <typename V>
void l2_tile(const V *queries, uint64_t q_count, const V *corpus, uint64_t n_count, uint32_t dim,
             const double *centre, int squared, int precision, float *out, uint64_t ld) {
  gm_parallel_ranges(q_count, [&](uint64_t begin, uint64_t end, unsigned) {
    std::vector<float> a(dim), b(dim);
    for (uint64_t r = begin; r < end; r++) {
      if (precision == GM_PRECISION_FP32) {
        l2_row(queries + r * dim, corpus, n_count, dim, centre, squared, out + r * ld, a);
      } else {
        l2_row_expanded(queries + r * dim, corpus, n_count, dim, centre, squared, precision,
                        out + r * ld, a, b);
      }
    }
  });
}

template <typename V>
void centre_of(const V *corpus, uint64_t n, uint32_t dim, double *centre) {
  unsigned threads = gm_cpu_threads();
  std::vector<double> sums(static_cast<size_t>(threads) * dim, 0.0);
  gm_parallel_ranges(n, [&](uint64_t begin, uint64_t end, unsigned w) {
    double *s = &sums[static_cast<size_t>(w) * dim];
    for (uint64_t r = begin; r < end; r++) {
      for (uint32_t k = 0; k < dim; k++) s[k] += static_cast<double>(corpus[r * dim + k]);
    }
  });
  for (uint32_t k = 0; k < dim; k++) {
    double total = 0;
    for (unsigned w = 0; w < threads; w++) total += sums[static_cast<size_t>(w) * dim + k];
    centre[k] = total / static_cast<double>(n);
  }
}

}  // namespace

extern "C" int gm_vectors_centre(int, uint64_t corpus, uint64_t n, uint32_t dim, int f64,
                                 uint64_t centre, void *) {
  if (centre == 0 || dim == 0 || (n > 0 && corpus == 0)) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_vectors_centre: null address or zero dimension");
  }
  auto *c = reinterpret_cast<double *>(centre);
  if (n == 0) {
    std::fill(c, c + dim, 0.0);
  } else if (f64) {
    centre_of(reinterpret_cast<const double *>(corpus), n, dim, c);
  } else {
    centre_of(reinterpret_cast<const float *>(corpus), n, dim, c);
  }
  return gm_ok();
}

extern "C" int gm_l2_tile(int, uint64_t queries, uint64_t q_count, uint64_t corpus,
                          uint64_t n_count, uint32_t dim, int f64, uint64_t centre, int squared,
                          int precision, uint64_t out, uint64_t ld, void *) {
  bool missing = q_count > 0 && n_count > 0 && (queries == 0 || corpus == 0 || out == 0);
  if (dim == 0 || ld < n_count || missing || precision < GM_PRECISION_FP32 ||
      precision > GM_PRECISION_FP16) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_l2_tile: bad dimension, sizes or null address");
  }
  auto *c = reinterpret_cast<const double *>(centre);
  auto *o = reinterpret_cast<float *>(out);
  if (f64) {
    l2_tile(reinterpret_cast<const double *>(queries), q_count,
            reinterpret_cast<const double *>(corpus), n_count, dim, c, squared, precision, o, ld);
  } else {
    l2_tile(reinterpret_cast<const float *>(queries), q_count,
            reinterpret_cast<const float *>(corpus), n_count, dim, c, squared, precision, o, ld);
  }
  return gm_ok();
}

extern "C" int gm_knn_select(int, uint64_t tile, uint64_t ld, uint64_t q_count, uint64_t n_count,
                             uint64_t corpus_base, uint64_t query_base, uint32_t k, int flags,
                             uint64_t best_d, uint64_t best_i, void *) {
  if (k < 1 || k > GM_VECTOR_MAX_K || ld < n_count || corpus_base + n_count > 0xFFFFFFFFull ||
      (q_count > 0 && (best_d == 0 || best_i == 0 || (n_count > 0 && tile == 0)))) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_knn_select: bad k, sizes or null address");
  }
  auto *rows = reinterpret_cast<const float *>(tile);
  auto *bd = reinterpret_cast<float *>(best_d);
  auto *bi = reinterpret_cast<int32_t *>(best_i);
  auto less = [](const std::pair<float, uint32_t> &a, const std::pair<float, uint32_t> &b) {
    return gm_pair_less(a.first, a.second, b.first, b.second);
  };
  gm_parallel_ranges(q_count, [&](uint64_t begin, uint64_t end, unsigned) {
    std::vector<std::pair<float, uint32_t>> heap; /* a max-heap of the k best so far */
    for (uint64_t r = begin; r < end; r++) {
      heap.clear();
      for (uint32_t j = 0; j < k && !(flags & GM_SELECT_FIRST); j++) {
        if (bi[r * k + j] >= 0) heap.push_back({bd[r * k + j], static_cast<uint32_t>(bi[r * k + j])});
      }
      std::make_heap(heap.begin(), heap.end(), less);
      for (uint64_t j = 0; j < n_count; j++) {
        uint64_t index = corpus_base + j;
        if ((flags & GM_SELECT_EXCLUDE_SELF) && index == query_base + r) continue;
        std::pair<float, uint32_t> pair{rows[r * ld + j], static_cast<uint32_t>(index)};
        if (heap.size() < k) {
          heap.push_back(pair);
          std::push_heap(heap.begin(), heap.end(), less);
        } else if (less(pair, heap.front())) {
          std::pop_heap(heap.begin(), heap.end(), less);
          heap.back() = pair;
          std::push_heap(heap.begin(), heap.end(), less);
        }
      }
      std::sort_heap(heap.begin(), heap.end(), less);
      for (uint32_t j = 0; j < k; j++) {
        bool hit = j < heap.size();
        float d = hit ? heap[j].first : INFINITY;
        bd[r * k + j] = (flags & GM_SELECT_LAST) && hit ? sqrtf(d) : d;
        bi[r * k + j] = hit ? static_cast<int32_t>(heap[j].second) : -1;
      }
    }
  });
  return gm_ok();
}
