#include "backend/cpu/ops/ops.h"

#include <cmath>

namespace bluecl::cpu {

void rms_norm(const OpArgs& a) {
  const int64_t rows = a.in(0).shape.rows(), n = a.in(0).shape.last();
  const float eps = a.n.a<RmsNormAttr>().eps;
  const float* x = a.f(0);
  const float* w = a.has(1) ? a.f(1) : nullptr;
  float* y = a.y();
  a.pool.parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * n;
      double ss = 0;
      for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      const double inv = 1.0 / std::sqrt(ss / n + eps);
      for (int64_t i = 0; i < n; ++i) y[r * n + i] = static_cast<float>(xr[i] * inv * (w ? w[i] : 1.0f));
    }
  });
}

}  // namespace bluecl::cpu
