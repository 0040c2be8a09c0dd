#include "backend/cpu/ops/ops.h"

#include <cmath>

namespace bluecl::cpu {

void layer_norm(const OpArgs& a) {
  const int64_t rows = a.in(0).shape.rows(), n = a.in(0).shape.last();
  const float eps = a.n.a<LayerNormAttr>().eps;
  const float* x = a.f(0);
  const float* w = a.has(1) ? a.f(1) : nullptr;
  const float* b = a.has(2) ? a.f(2) : nullptr;
  float* y = a.y();
  a.pool.parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * n;
      double mean = 0;
      for (int64_t i = 0; i < n; ++i) mean += xr[i];
      mean /= n;
      double var = 0;
      for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      const double inv = 1.0 / std::sqrt(var / n + eps);
      for (int64_t i = 0; i < n; ++i) {
        const double v = (xr[i] - mean) * inv;
        y[r * n + i] = static_cast<float>(v * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f));
      }
    }
  });
}

}  // namespace bluecl::cpu
