/* L2 tiles on tensor cores through mma.sync (float accumulators): the expansion
 * |a|^2 + |b|^2 - 2 a.b, in four precisions.
 *
 * - tf32, bf16, fp16: a.b of the inputs rounded to that type (m16n8k8 for tf32, to nearest with
 *   ties away; m16n8k16 for the 16-bit types, to nearest even; as l2_cpu.cpp's tensor_round),
 *   the norms of the same rounded values, so that a vector's distance to itself is about 0.
 * - fp32 (dim >= GM_L2_MMA_MIN_DIM): each input split as hi + lo (hi its tf32 rounding, lo the
 *   rest), a.b = hi.hi + hi.lo + lo.hi (the dropped lo.lo is 2^-22 of it), the norms in float.
 *   Where the expansion cancels (a squared distance under 1/8 of |a|^2 + |b|^2: near pairs), the
 *   distance is computed again from differences in the order l2_steps.h gives both builds, so
 *   near neighbours come out exactly as the CPU build has them and every other distance within a
 *   few float roundings of |a|^2 + |b|^2.
 *
 * A block computes 128 x 128 distances with 8 warps of 64 x 32; dimensions come through shared
 * memory as float, 32 at a time, in a ring of stages, by cp.async (float input, rows 16-byte
 * aligned) or by plain loads that convert float64 and take off the centre; each warp rounds
 * (or splits) what it reads into its fragments. Rows are padded so that fragment reads (4 bytes
 * a lane for tf32, 8 for the 16-bit types) hit every bank once. Blocks walk the corpus tiles in
 * groups of 8 query tiles, which keeps the operands a group shares in L2. */
#include <cuda_runtime.h>
#include <stdint.h>

#include "../cuda_launch.h"
#include "../status.h"
#include "l2_steps.h"
#include "l2_tensor.h"

namespace {

constexpr int kBM = 128, kBN = 128, kBK = 32, kWarpsM = 2, kWarpsN = 4;
constexpr int kThreads = 32 * kWarpsM * kWarpsN;
constexpr int kWarpN = kBN / kWarpsN; /* columns of a warp's tile */
constexpr int kNT = kWarpN / 8;       /* its n8 tiles (and 4 m16 tiles of rows) */
constexpr uint32_t kGroup = 8;
/* fp32: a squared distance under this share of |a|^2 + |b|^2 is computed again from differences.
 * The expansion's error is a few float roundings of |a|^2 + |b|^2, so the rest stay within about
 * 2^-18 of the exact value (about 2^-22 where the norms do not dwarf the distance, as for
 * centred data); on random data almost no pair is computed twice. */
constexpr float kRecompute = 0.125f;

/* The shared-memory shape of a precision: row pitch (floats) and stages, two blocks an SM. */
template <int kP>
struct Staging {
  static constexpr bool k16 = kP == GM_PRECISION_BF16 || kP == GM_PRECISION_FP16;
  static constexpr int lds = k16 ? kBK + 8 : kBK + 4;
  static constexpr int stages = k16 ? 2 : 3;
  static constexpr int stage_floats = (kBM + kBN) * lds;
  static constexpr size_t bytes = stages * stage_floats * sizeof(float);
};

/* v rounded to tf32 (to nearest, ties away from zero; the low 13 bits zero), as the bits of an
 * mma operand: one instruction. */
__device__ __forceinline__ uint32_t tf32_bits(float v) {
  uint32_t bits;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(bits) : "f"(v));
  return bits;
}

/* (x.x, x.y) rounded to nearest even as a bf16 or fp16 pair, x.x in the low half. */
template <int kP>
__device__ __forceinline__ uint32_t pack16(float2 x) {
  uint32_t bits;
  if constexpr (kP == GM_PRECISION_BF16) {
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(bits) : "f"(x.y), "f"(x.x));
  } else {
    asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(bits) : "f"(x.y), "f"(x.x));
  }
  return bits;
}

/* The sum of squares of a packed pair, as float. */
template <int kP>
__device__ __forceinline__ float square_pair(uint32_t bits, float sum) {
  float lo, hi;
  if constexpr (kP == GM_PRECISION_BF16) {
    lo = __uint_as_float(bits << 16), hi = __uint_as_float(bits & 0xFFFF0000u);
  } else {
    asm("{\n .reg .f16 l, h;\n mov.b32 {l, h}, %2;\n cvt.f32.f16 %0, l;\n cvt.f32.f16 %1, h;\n}\n"
        : "=f"(lo), "=f"(hi)
        : "r"(bits));
  }
  return fmaf(hi, hi, fmaf(lo, lo, sum));
}

__device__ __forceinline__ void mma_tf32(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <int kP>
__device__ __forceinline__ void mma16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                      uint32_t b1) {
  if constexpr (kP == GM_PRECISION_BF16) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

/* 16 bytes from global to shared memory without passing through registers; zeros when !valid. */
__device__ __forceinline__ void cp_async16(float *dst, const float *src, bool valid) {
  unsigned to = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(to), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* Rows [row0, row0 + 128) x dims [k0, k0 + 32) of `data` into s[row * kLds + k], zeros past the
 * ends. Async: float rows of a dim divisible by 4 (a 16-byte piece is wholly in or out). */
template <int kLds, bool kAsync, typename V>
__device__ void load_rows(const V *data, uint64_t rows, uint32_t dim, const double *centre,
                          uint64_t row0, uint32_t k0, float *s) {
  if constexpr (kAsync) {
    /* Offsets in 32 bits from the block's first row (128 rows of dim < 2^24 floats). */
    const float *base = reinterpret_cast<const float *>(data) + row0 * dim;
    const uint32_t r0 = threadIdx.x / (kBK / 4), kc = threadIdx.x % (kBK / 4) * 4;
    const uint32_t k = k0 + kc;
    const uint64_t left = rows > row0 ? rows - row0 : 0;
#pragma unroll
    for (int i = 0; i < kBM * kBK / 4 / kThreads; i++) {
      const uint32_t r = r0 + i * (kThreads / (kBK / 4));
      const bool valid = r < left && k < dim;
      cp_async16(s + r * kLds + kc, valid ? base + (r * dim + k) : base, valid);
    }
  } else {
    for (int e = threadIdx.x; e < kBM * kBK; e += kThreads) {
      int r = e / kBK, kk = e % kBK;
      uint64_t row = row0 + r;
      uint32_t k = k0 + kk;
      s[r * kLds + kk] =
          row < rows && k < dim ? gm_vector_value(data, row * dim + k, centre, k) : 0.0f;
    }
  }
}

/* The squared distance of two rows from differences, as both builds compute fp32 (l2_steps.h). */
template <typename V>
__device__ float exact_d2(const V *a, const V *b, uint32_t dim, const double *centre) {
  float sum = 0.0f;
  for (uint32_t k = 0; k < dim; k++) {
    sum = gm_l2_accumulate(sum, gm_vector_value(a, k, centre, k), gm_vector_value(b, k, centre, k));
  }
  return sum;
}

/* One stage's products for the warp's 64 x 32 tile, in tf32 (one product a pair) or fp32 (three
 * of the split parts), and the lane's shares of the norms (dims = t mod 4). */
template <int kP>
__device__ __forceinline__ void multiply_tf32(const float *as, const float *bs, int g, int t,
                                              float (&acc)[4][kNT][4], float (&qsq)[8],
                                              float (&csq)[kNT]) {
  constexpr bool split = kP == GM_PRECISION_FP32;
  constexpr int lds = Staging<kP>::lds;
#pragma unroll
  for (int kk = 0; kk < kBK; kk += 8) {
    uint32_t a_hi[4][4], a_lo[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const float *p = as + (16 * i + g) * lds + kk + t;
      const float x[4] = {p[0], p[8 * lds], p[4], p[8 * lds + 4]};
#pragma unroll
      for (int e = 0; e < 4; e++) {
        a_hi[i][e] = tf32_bits(x[e]);
        const float hi = __uint_as_float(a_hi[i][e]), v = split ? x[e] : hi;
        if (split) a_lo[i][e] = __float_as_uint(x[e] - hi);
        qsq[2 * i + (e & 1)] = fmaf(v, v, qsq[2 * i + (e & 1)]);
      }
    }
#pragma unroll
    for (int j = 0; j < kNT; j++) {
      const float *p = bs + (8 * j + g) * lds + kk + t;
      const float y0 = p[0], y1 = p[4];
      const uint32_t b0 = tf32_bits(y0), b1 = tf32_bits(y1);
      const float h0 = __uint_as_float(b0), h1 = __uint_as_float(b1);
      const float v0 = split ? y0 : h0, v1 = split ? y1 : h1;
      csq[j] = fmaf(v1, v1, fmaf(v0, v0, csq[j]));
      if (split) {
        const uint32_t l0 = __float_as_uint(y0 - h0), l1 = __float_as_uint(y1 - h1);
        /* The small products first, each accumulator's three a step apart. */
#pragma unroll
        for (int i = 0; i < 4; i++) mma_tf32(acc[i][j], a_lo[i], b0, b1);
#pragma unroll
        for (int i = 0; i < 4; i++) mma_tf32(acc[i][j], a_hi[i], l0, l1);
      }
#pragma unroll
      for (int i = 0; i < 4; i++) mma_tf32(acc[i][j], a_hi[i], b0, b1);
    }
  }
}

/* The same in bf16 or fp16: pairs of dimensions (2t, 2t + 1 mod 8) a register. */
template <int kP>
__device__ __forceinline__ void multiply_16(const float *as, const float *bs, int g, int t,
                                            float (&acc)[4][kNT][4], float (&qsq)[8],
                                            float (&csq)[kNT]) {
  constexpr int lds = Staging<kP>::lds;
  auto pair = [](const float *p) { return *reinterpret_cast<const float2 *>(p); };
#pragma unroll
  for (int kk = 0; kk < kBK; kk += 16) {
    uint32_t a[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const float *p = as + (16 * i + g) * lds + kk + 2 * t;
      const float2 x[4] = {pair(p), pair(p + 8 * lds), pair(p + 8), pair(p + 8 * lds + 8)};
#pragma unroll
      for (int e = 0; e < 4; e++) {
        a[i][e] = pack16<kP>(x[e]);
        qsq[2 * i + (e & 1)] = square_pair<kP>(a[i][e], qsq[2 * i + (e & 1)]);
      }
    }
#pragma unroll
    for (int j = 0; j < kNT; j++) {
      const float *p = bs + (8 * j + g) * lds + kk + 2 * t;
      const uint32_t b0 = pack16<kP>(pair(p)), b1 = pack16<kP>(pair(p + 8));
      csq[j] = square_pair<kP>(b1, square_pair<kP>(b0, csq[j]));
#pragma unroll
      for (int i = 0; i < 4; i++) mma16<kP>(acc[i][j], a[i], b0, b1);
    }
  }
}

template <int kP, bool kAsync, typename V>
__global__ void __launch_bounds__(kThreads, 2)
    l2_mma_kernel(const V *queries, uint64_t q_count, const V *corpus, uint64_t n_count,
                  uint32_t dim, const double *centre, int squared, float *out, uint64_t ld,
                  uint32_t tiles_q, uint32_t tiles_n) {
  using S = Staging<kP>;
  extern __shared__ __align__(16) float shared[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int wm = warp / kWarpsN, wn = warp % kWarpsN;
  /* Block order: groups of kGroup query tiles, walking the corpus tiles side by side. */
  const uint32_t group = blockIdx.x / (kGroup * tiles_n), first = group * kGroup;
  const uint32_t in_group = blockIdx.x - group * kGroup * tiles_n;
  const uint32_t height = tiles_q - first < kGroup ? tiles_q - first : kGroup;
  const uint64_t row0 = static_cast<uint64_t>(first + in_group % height) * kBM;
  const uint64_t col0 = static_cast<uint64_t>(in_group / height) * kBN;

  float acc[4][kNT][4];
#pragma unroll
  for (int i = 0; i < 4; i++) {
#pragma unroll
    for (int j = 0; j < kNT; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;
    }
  }
  /* Shares of the norms: rows wm*64 + 16i + g (+ 8 for odd r), columns wn*kWarpN + 8j + g. */
  float qsq[8], csq[kNT];
#pragma unroll
  for (int r = 0; r < 8; r++) qsq[r] = 0.0f;
#pragma unroll
  for (int j = 0; j < kNT; j++) csq[j] = 0.0f;

  const uint32_t k_tiles = (dim + kBK - 1) / kBK;
  auto load = [&](uint32_t kt) {
    float *stage = shared + (kt % S::stages) * S::stage_floats;
    load_rows<S::lds, kAsync>(queries, q_count, dim, centre, row0, kt * kBK, stage);
    load_rows<S::lds, kAsync>(corpus, n_count, dim, centre, col0, kt * kBK,
                              stage + kBM * S::lds);
  };
#pragma unroll
  for (int s = 0; s < S::stages - 1; s++) {
    if (s < static_cast<int>(k_tiles)) load(s);
    cp_async_commit();
  }
  for (uint32_t kt = 0; kt < k_tiles; kt++) {
    cp_async_wait<S::stages - 2>();
    __syncthreads(); /* stage kt is in; the stage loaded next was last read before this */
    if (kt + S::stages - 1 < k_tiles) load(kt + S::stages - 1);
    cp_async_commit();
    const float *as = shared + (kt % S::stages) * S::stage_floats + wm * 64 * S::lds;
    const float *bs = shared + (kt % S::stages) * S::stage_floats + (kBM + wn * kWarpN) * S::lds;
    if constexpr (S::k16) {
      multiply_16<kP>(as, bs, g, t, acc, qsq, csq);
    } else {
      multiply_tf32<kP>(as, bs, g, t, acc, qsq, csq);
    }
  }
  cp_async_wait<0>();
  /* Whole norms: the four lanes of a group hold the four residues of the dimensions. */
#pragma unroll
  for (int r = 0; r < 8; r++) {
    qsq[r] += __shfl_xor_sync(0xFFFFFFFFu, qsq[r], 1);
    qsq[r] += __shfl_xor_sync(0xFFFFFFFFu, qsq[r], 2);
  }
#pragma unroll
  for (int j = 0; j < kNT; j++) {
    csq[j] += __shfl_xor_sync(0xFFFFFFFFu, csq[j], 1);
    csq[j] += __shfl_xor_sync(0xFFFFFFFFu, csq[j], 2);
  }
  /* Accumulator e of tile (i, j): row 16i + g + 8 (e / 2), column 8j + 2t + e % 2. fp32's
   * distances that cancel are written as they are, flagged, then written again from differences
   * in one loop of their own (unrolled over every accumulator, the exact loop would be 64 copies
   * that crowd the instruction cache: the first version spent 25 ms of 38 there at d = 64). */
  static_assert(4 * kNT * 4 <= 64, "one flag bit an accumulator");
  uint64_t again = 0;
  const bool pairs = ld % 2 == 0 && reinterpret_cast<uintptr_t>(out) % 8 == 0;
#pragma unroll
  for (int j = 0; j < kNT; j++) {
    const float cn[2] = {__shfl_sync(0xFFFFFFFFu, csq[j], 8 * t),
                         __shfl_sync(0xFFFFFFFFu, csq[j], 8 * t + 4)};
    const uint64_t col = col0 + wn * kWarpN + 8 * j + 2 * t;
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const uint64_t row = row0 + wm * 64 + 16 * i + g + 8 * h;
        if (row >= q_count) continue;
        const float qn = qsq[2 * i + h];
        float d[2];
#pragma unroll
        for (int c = 0; c < 2; c++) {
          d[c] = qn + cn[c] - 2.0f * acc[i][j][2 * h + c];
          if (kP == GM_PRECISION_FP32 && col + c < n_count && d[c] < kRecompute * (qn + cn[c])) {
            again |= 1ull << ((i * kNT + j) * 4 + 2 * h + c);
          }
          d[c] = fmaxf(d[c], 0.0f);
          if (!squared) d[c] = sqrtf(d[c]);
        }
        float *to = out + row * ld + col;
        if (pairs && col + 1 < n_count) {
          *reinterpret_cast<float2 *>(to) = make_float2(d[0], d[1]);
        } else {
          if (col < n_count) to[0] = d[0];
          if (col + 1 < n_count) to[1] = d[1];
        }
      }
    }
  }
  if constexpr (kP == GM_PRECISION_FP32) {
    while (again != 0) {
      const int bit = __ffsll(static_cast<long long>(again)) - 1;
      again &= again - 1;
      const int e = bit % 4, j = bit / 4 % kNT, i = bit / 4 / kNT;
      const uint64_t row = row0 + wm * 64 + 16 * i + g + 8 * (e / 2);
      const uint64_t col = col0 + wn * kWarpN + 8 * j + 2 * t + e % 2;
      const float d2 = exact_d2(queries + row * dim, corpus + col * dim, dim, centre);
      out[row * ld + col] = squared ? d2 : sqrtf(d2);
    }
  }
}

/* Queues the kernel; the error of setting its shared-memory size, if any (the launch's own is
 * gm_launch_check's). */
template <int kP, bool kAsync, typename V>
cudaError_t launch(const V *queries, uint64_t q_count, const V *corpus, uint64_t n_count, uint32_t dim,
            const double *centre, int squared, float *out, uint64_t ld, cudaStream_t s) {
  const uint32_t tiles_q = static_cast<uint32_t>((q_count + kBM - 1) / kBM);
  const uint32_t tiles_n = static_cast<uint32_t>((n_count + kBN - 1) / kBN);
  auto kernel = l2_mma_kernel<kP, kAsync, V>;
  constexpr size_t bytes = Staging<kP>::bytes;
  cudaError_t error = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(bytes));
  if (error != cudaSuccess) return error;
  kernel<<<tiles_q * tiles_n, kThreads, bytes, s>>>(queries, q_count, corpus, n_count, dim,
                                                    centre, squared, out, ld, tiles_q, tiles_n);
  return cudaSuccess;
}

template <int kP>
cudaError_t dispatch(uint64_t queries, uint64_t q_count, uint64_t corpus, uint64_t n_count,
              uint32_t dim, int f64, const double *centre, int squared, float *out, uint64_t ld,
              cudaStream_t s) {
  if (f64) {
    return launch<kP, false>(reinterpret_cast<const double *>(queries), q_count,
                             reinterpret_cast<const double *>(corpus), n_count, dim, centre,
                             squared, out, ld, s);
  }
  const bool aligned = centre == nullptr && dim % 4 == 0 && dim < (1u << 24) &&
                       queries % 16 == 0 && corpus % 16 == 0;
  auto *q = reinterpret_cast<const float *>(queries), *c = reinterpret_cast<const float *>(corpus);
  return aligned ? launch<kP, true>(q, q_count, c, n_count, dim, centre, squared, out, ld, s)
                 : launch<kP, false>(q, q_count, c, n_count, dim, centre, squared, out, ld, s);
}

}  // namespace

int gm_l2_mma_tile(int precision, uint64_t queries, uint64_t q_count, uint64_t corpus,
                   uint64_t n_count, uint32_t dim, int f64, uint64_t centre, int squared,
                   uint64_t out, uint64_t ld, cudaStream_t s) {
  if ((q_count + kBM - 1) / kBM * ((n_count + kBN - 1) / kBN) > 0x7FFFFFFFull) {
    return gm_fail(GM_INVALID_ARGUMENT, "gm_l2_tile: too many tiles for one launch");
  }
  auto *c = reinterpret_cast<const double *>(centre);
  auto *o = reinterpret_cast<float *>(out);
  /* By enum gm_precision (gm_l2_tile checked it). */
  constexpr decltype(&dispatch<GM_PRECISION_FP32>) kByPrecision[] = {
      dispatch<GM_PRECISION_FP32>, dispatch<GM_PRECISION_TF32>, dispatch<GM_PRECISION_BF16>,
      dispatch<GM_PRECISION_FP16>};
  cudaError_t error =
      kByPrecision[precision](queries, q_count, corpus, n_count, dim, f64, c, squared, o, ld, s);
  if (error != cudaSuccess) return gm_cuda_failure("cudaFuncSetAttribute", error);
  return gm_launch_check("gm_l2_tile (tensor cores)");
}
