// y = gelu(x): tanh approximation 0.5 x (1 + tanh(c (x + 0.044715 x^3))), c = sqrt(2/pi), or exact
// 0.5 x (1 + erf(x / sqrt 2)). Reference in double. Fast in fp32, the tanh form through the identity
// 0.5 (1 + tanh(u)) = sigmoid(2u).
#include "backend/cpu/ops/elementwise.h"
#include "backend/cpu/simd_math.h"

#include <cmath>

namespace bluecl::cpu {
void gelu(const OpArgs& a) {
  const bool erf = a.n.a<GeluAttr>().mode == GeluMode::Erf;
  if (!a.fast) {
    if (erf) {
      unary(a, [](float x) { return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)))); });
    } else {
      const double c = std::sqrt(2.0 / M_PI);
      unary(a, [c](float x) {
        const double v = x;
        return static_cast<float>(0.5 * v * (1.0 + std::tanh(c * (v + 0.044715 * v * v * v))));
      });
    }
    return;
  }
  if (erf) {
    unary(a, [](float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); });
    return;
  }
  constexpr float c2 = 2.0f * 0.79788456080286536f;  // 2 sqrt(2/pi)
  const int64_t n = a.in(0).shape.numel();
  const float* x = a.f(0);
  float* y = a.y();
  a.pool.parallel_for(
      n,
      [&](int64_t i0, int64_t i1, int) {
        int64_t i = i0;
#ifdef BLUECL_CPU_AVX2
        const __m256 k = _mm256_set1_ps(0.044715f), c = _mm256_set1_ps(c2);
        for (; i + 8 <= i1; i += 8) {
          const __m256 v = _mm256_loadu_ps(x + i);
          const __m256 u = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(k, v), _mm256_mul_ps(v, v), v));
          _mm256_storeu_ps(y + i, _mm256_mul_ps(v, sigmoid_ps(u)));
        }
#endif
        for (; i < i1; ++i) y[i] = x[i] / (1.0f + std::exp(-c2 * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
      },
      kMinParallelElems);
}
}  // namespace bluecl::cpu
