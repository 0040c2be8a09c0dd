// y = x / sqrt(mean(x^2) + eps) (* w) per row. Reference sums in double; fast in fp32 SIMD.
#include "backend/cpu/ops/ops.h"
#include "backend/cpu/simd_math.h"

#include <cmath>

namespace bluecl::cpu {

namespace {
float sum_squares(const float* x, int64_t n) {
  int64_t i = 0;
  float s = 0.0f;
#ifdef BLUECL_CPU_AVX2
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    a0 = _mm256_fmadd_ps(v0, v0, a0);
    a1 = _mm256_fmadd_ps(v1, v1, a1);
  }
  s = avx2::hsum(_mm256_add_ps(a0, a1));
#endif
  for (; i < n; ++i) s += x[i] * x[i];
  return s;
}
}  // namespace

void rms_norm(const OpArgs& a) {
  const int64_t rows = a.in(0).shape.rows(), n = a.in(0).shape.last();
  const float eps = a.n.a<RmsNormAttr>().eps;
  const float* x = a.f(0);
  const float* w = a.has(1) ? a.f(1) : nullptr;
  float* y = a.y();
  a.pool.parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* xr = x + r * n;
          float* yr = y + r * n;
          if (a.fast) {
            const float inv = 1.0f / std::sqrt(sum_squares(xr, n) / static_cast<float>(n) + eps);
            if (w)
              for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * inv * w[i];
            else
              for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * inv;
            continue;
          }
          double ss = 0;
          for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
          const double inv = 1.0 / std::sqrt(ss / n + eps);
          for (int64_t i = 0; i < n; ++i) yr[i] = static_cast<float>(xr[i] * inv * (w ? w[i] : 1.0f));
        }
      },
      rows_grain(n));
}

}  // namespace bluecl::cpu
