// y = softmax(x * scale) per row. Reference in double; fast in fp32 SIMD.
#include "backend/cpu/ops/ops.h"
#include "backend/cpu/simd_math.h"

#include <algorithm>
#include <cmath>

namespace bluecl::cpu {

void softmax(const OpArgs& a) {
  const int64_t rows = a.in(0).shape.rows(), n = a.in(0).shape.last();
  const float scale = a.n.a<SoftMaxAttr>().scale;
  const float* x = a.f(0);
  float* y = a.y();
  a.pool.parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* xr = x + r * n;
          float* yr = y + r * n;
          if (a.fast) {
            float mx = -INFINITY;
            for (int64_t i = 0; i < n; ++i) mx = std::max(mx, yr[i] = xr[i] * scale);
            const float inv = 1.0f / exp_shifted_sum(yr, mx, yr, n);
            for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
            continue;
          }
          double mx = -INFINITY;
          for (int64_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(xr[i]) * scale);
          double sum = 0;
          for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(xr[i]) * scale - mx);
          for (int64_t i = 0; i < n; ++i)
            yr[i] = static_cast<float>(std::exp(static_cast<double>(xr[i]) * scale - mx) / sum);
        }
      },
      rows_grain(n));
}

}  // namespace bluecl::cpu
