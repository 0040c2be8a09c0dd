// 2x2 token merge: x[B, g, g, C] -> y[B, h*h, 4C], h = ceil(g/2). Output token (i, j) is the channel
// concatenation [x(2i,2j), x(2i,2j+1), x(2i+1,2j), x(2i+1,2j+1)], zero where the grid is padded; it is
// stored at i*h + j (row-major) or j*h + i (column-major, VILA's order).
#include "backend/cpu/ops/ops.h"

#include <algorithm>

namespace bluecl::cpu {

void downsample(const OpArgs& a) {
  const Shape& s = a.in(0).shape;
  const int64_t B = s[0], g = s[1], C = s[3], h = (g + 1) / 2;
  const bool col = a.n.a<DownsampleAttr>().column_major;
  const float* x = a.f(0);
  float* y = a.y();
  a.pool.parallel_for(B * h * h, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / (h * h), i = (t / h) % h, j = t % h;
      float* yr = y + (b * h * h + (col ? j * h + i : i * h + j)) * 4 * C;
      for (int q = 0; q < 4; ++q) {
        const int64_t r = 2 * i + q / 2, c = 2 * j + q % 2;
        if (r < g && c < g)
          std::copy_n(x + ((b * g + r) * g + c) * C, C, yr + q * C);
        else
          std::fill_n(yr + q * C, C, 0.0f);
      }
    }
  });
}

}  // namespace bluecl::cpu
