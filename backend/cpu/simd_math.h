// fp32 SIMD math for the fast CPU ops (CpuPrecision::Fast): exp, sigmoid and the loops built on them.
//
// exp_ps: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial for e^r (the
// Cephes coefficients), and 2^n built in the exponent bits; relative error < 2e-7 for x in
// [-87.3, 88.72]. Below -87.3 it returns 0 (so a -inf score weighs nothing), above ln(FLT_MAX) +inf.
// Every function has a scalar fallback with the same contract for builds without AVX2.
#pragma once

#include "backend/cpu/quant_act.h"

#include <cmath>
#include <cstdint>

namespace bluecl::cpu {

#ifdef BLUECL_CPU_AVX2
inline __m256 exp_ps(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.7228394f), lo = _mm256_set1_ps(-87.3f);  // ln(FLT_MAX), ~ln(FLT_MIN)
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  const __m256 overflow = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
  x = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n for n in [-126, 128] as 2^(n/2) 2^(n - n/2): one exponent field cannot hold both ends.
  const __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  const __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  return _mm256_blendv_ps(_mm256_andnot_ps(underflow, y), _mm256_set1_ps(INFINITY), overflow);
}

// 1 / (1 + e^-x)
inline __m256 sigmoid_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}
#endif

inline float exp_fast(float x) {
  if (x < -87.3f) return 0.0f;
  return std::exp(x);
}

// y[i] = exp(x[i]) with exp_ps (the library's own copy, for tests: this header's SIMD code is compiled
// only where the including file is built for AVX2).
void exp_array(const float* x, float* y, int64_t n);

// max(init, x[0..n)) (NaN-free input assumed, as for scores).
inline float max_of(const float* x, int64_t n, float init) {
  int64_t i = 0;
  float m = init;
#ifdef BLUECL_CPU_AVX2
  if (n >= 8) {
    __m256 v = _mm256_set1_ps(init);
    for (; i + 8 <= n; i += 8) v = _mm256_max_ps(v, _mm256_loadu_ps(x + i));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    m = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
  }
#endif
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// x[0..n) *= s.
inline void scale_in_place(float* x, int64_t n, float s) {
  int64_t i = 0;
#ifdef BLUECL_CPU_AVX2
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(s)));
#endif
  for (; i < n; ++i) x[i] *= s;
}

// y[i] = exp(x[i] - shift) for i < n; returns the sum of the y[i].
inline float exp_shifted_sum(const float* x, float shift, float* y, int64_t n) {
  int64_t i = 0;
  float sum = 0.0f;
#ifdef BLUECL_CPU_AVX2
  __m256 acc = _mm256_setzero_ps();
  const __m256 s = _mm256_set1_ps(shift);
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    _mm256_storeu_ps(y + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  sum = avx2::hsum(acc);
#endif
  for (; i < n; ++i) sum += (y[i] = exp_fast(x[i] - shift));
  return sum;
}

}  // namespace bluecl::cpu
