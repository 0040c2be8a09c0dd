// y = (x - mean) / sqrt(var + eps) (* w + b) per row. Reference in double; fast in fp32 (two passes,
// so the variance does not cancel).
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
  a.pool.parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* xr = x + r * n;
          float* yr = y + r * n;
          if (a.fast) {
            // Eight partial sums per pass let the compiler vectorise without reassociating.
            float s[8] = {}, v[8] = {};
            int64_t i = 0;
            for (; i + 8 <= n; i += 8)
              for (int k = 0; k < 8; ++k) s[k] += xr[i + k];
            float mean = 0.0f;
            for (int k = 0; k < 8; ++k) mean += s[k];
            for (; i < n; ++i) mean += xr[i];
            mean /= static_cast<float>(n);
            for (i = 0; i + 8 <= n; i += 8)
              for (int k = 0; k < 8; ++k) v[k] += (xr[i + k] - mean) * (xr[i + k] - mean);
            float var = 0.0f;
            for (int k = 0; k < 8; ++k) var += v[k];
            for (; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
            const float inv = 1.0f / std::sqrt(var / static_cast<float>(n) + eps);
            for (i = 0; i < n; ++i) yr[i] = (xr[i] - mean) * inv * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
            continue;
          }
          double mean = 0;
          for (int64_t i = 0; i < n; ++i) mean += xr[i];
          mean /= n;
          double var = 0;
          for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
          const double inv = 1.0 / std::sqrt(var / n + eps);
          for (int64_t i = 0; i < n; ++i) {
            const double v = (xr[i] - mean) * inv;
            yr[i] = static_cast<float>(v * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f));
          }
        }
      },
      rows_grain(n));
}

}  // namespace bluecl::cpu
