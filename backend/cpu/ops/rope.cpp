// Rotary embedding of x[n_tok, n_head, head_dim] at positions n_past + t: dimension pair i (of n_rot/2)
// turns by angle pos * theta^(-2i/n_rot). Adjacent mode pairs (2i, 2i+1); half-split pairs (i, i+n_rot/2).
#include "backend/cpu/ops/ops.h"

#include <cmath>
#include <vector>

namespace bluecl::cpu {

void rope(const OpArgs& a) {
  const Shape& s = a.in(0).shape;
  const int64_t n_tok = s[0], n_head = s[1], hd = s[2];
  const RopeAttr& at = a.n.a<RopeAttr>();
  const int half = at.n_rot / 2;
  std::vector<double> inv_freq(half);
  for (int i = 0; i < half; ++i) inv_freq[i] = std::pow(static_cast<double>(at.theta), -2.0 * i / at.n_rot);
  const float* x = a.f(0);
  float* y = a.y();
  a.pool.parallel_for(n_tok, [&](int64_t t0, int64_t t1, int) {
    std::vector<double> cs(half), sn(half);
    for (int64_t t = t0; t < t1; ++t) {
      const double pos = static_cast<double>(a.step.n_past + t);
      for (int i = 0; i < half; ++i) {
        cs[i] = std::cos(pos * inv_freq[i]);
        sn[i] = std::sin(pos * inv_freq[i]);
      }
      for (int64_t h = 0; h < n_head; ++h) {
        const float* xr = x + (t * n_head + h) * hd;
        float* yr = y + (t * n_head + h) * hd;
        for (int64_t i = at.n_rot; i < hd; ++i) yr[i] = xr[i];
        for (int i = 0; i < half; ++i) {
          const int i0 = at.mode == RopeMode::Adjacent ? 2 * i : i;
          const int i1 = at.mode == RopeMode::Adjacent ? 2 * i + 1 : i + half;
          const double x0 = xr[i0], x1 = xr[i1];
          yr[i0] = static_cast<float>(x0 * cs[i] - x1 * sn[i]);
          yr[i1] = static_cast<float>(x0 * sn[i] + x1 * cs[i]);
        }
      }
    }
  });
}

}  // namespace bluecl::cpu
