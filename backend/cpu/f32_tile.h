// The fp32 register tile shared by fmatmul and the fast attention (AVX2 builds only):
//   y[MR x nr] (+)= x[MR x kc] @ panel[kc x 16]
// x row-major with row stride ldx (broadcast one element at a time), panel k-major (16 floats per k,
// 32-byte aligned), y row-major with row stride ldy. 6 x 16 keeps 12 accumulators in registers.
#pragma once

#include "backend/cpu/quant_act.h"

#ifdef BLUECL_CPU_AVX2

#include <cstdint>

namespace bluecl::cpu::avx2 {

inline constexpr int kMR = 6, kNR = 16;

// y[MR x nr] (+)= x[MR x kc] @ panel[kc x 16]; `first` starts from the bias (or zero) instead of y. A
// partial tile (nr < 16) goes through a local buffer. The accumulators are loaded before and stored after
// the k loop only, so GCC keeps them in registers.
template <int MR>
inline void f32_tile(const float* x, int64_t ldx, const float* panel, int64_t kc, float* y, int64_t ldy,
                     int nr, bool first, const float* bias) {
  alignas(32) float buf[MR][kNR];
  const bool full = nr == kNR;
  if (!full)
    for (int m = 0; m < MR; ++m)
      for (int n = 0; n < kNR; ++n)
        buf[m][n] = n >= nr ? 0.0f : first ? (bias ? bias[n] : 0.0f) : y[m * ldy + n];
  __m256 c[MR][2];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    if (!full) {
      c[m][0] = _mm256_load_ps(buf[m]);
      c[m][1] = _mm256_load_ps(buf[m] + 8);
    } else if (!first) {
      c[m][0] = _mm256_loadu_ps(y + m * ldy);
      c[m][1] = _mm256_loadu_ps(y + m * ldy + 8);
    } else if (bias) {
      c[m][0] = _mm256_loadu_ps(bias);
      c[m][1] = _mm256_loadu_ps(bias + 8);
    } else {
      c[m][0] = c[m][1] = _mm256_setzero_ps();
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(panel + k * kNR), b1 = _mm256_load_ps(panel + k * kNR + 8);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const __m256 av = _mm256_broadcast_ss(x + m * ldx + k);
      c[m][0] = _mm256_fmadd_ps(av, b0, c[m][0]);
      c[m][1] = _mm256_fmadd_ps(av, b1, c[m][1]);
    }
  }
  if (full) {
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      _mm256_storeu_ps(y + m * ldy, c[m][0]);
      _mm256_storeu_ps(y + m * ldy + 8, c[m][1]);
    }
    return;
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    _mm256_store_ps(buf[m], c[m][0]);
    _mm256_store_ps(buf[m] + 8, c[m][1]);
  }
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < nr; ++n) y[m * ldy + n] = buf[m][n];
}

using F32TileFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, int, bool,
                           const float*);
// f32_tiles[mr] for mr = 1 .. kMR.
inline constexpr F32TileFn f32_tiles[kMR + 1] = {nullptr,     f32_tile<1>, f32_tile<2>, f32_tile<3>,
                                                 f32_tile<4>, f32_tile<5>, f32_tile<6>};

}  // namespace bluecl::cpu::avx2

#endif
