// y = silu(gate) * up = gate / (1 + e^-gate) * up. Reference in double; fast in fp32 SIMD.
#include "backend/cpu/ops/elementwise.h"
#include "backend/cpu/simd_math.h"

#include <cmath>

namespace bluecl::cpu {
void silu_mul(const OpArgs& a) {
  if (!a.fast) {
    binary_rows(a, [](float g, float u) { return static_cast<float>(g / (1.0 + std::exp(-double(g))) * u); });
    return;
  }
  const int64_t n = a.in(0).shape.numel();
  const float* g = a.f(0);
  const float* u = a.f(1);
  float* y = a.y();
  a.pool.parallel_for(
      n,
      [&](int64_t i0, int64_t i1, int) {
        int64_t i = i0;
#ifdef BLUECL_CPU_AVX2
        for (; i + 8 <= i1; i += 8) {
          const __m256 gv = _mm256_loadu_ps(g + i);
          _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(gv, sigmoid_ps(gv)), _mm256_loadu_ps(u + i)));
        }
#endif
        for (; i < i1; ++i) y[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
      },
      kMinParallelElems);
}
}  // namespace bluecl::cpu
