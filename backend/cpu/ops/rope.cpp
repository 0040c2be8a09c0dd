// Rotary embedding of x[n_tok, n_head, head_dim] at positions n_past + t: dimension pair i (of n_rot/2)
// turns by angle pos * theta^(-2i/n_rot). Adjacent mode pairs (2i, 2i+1); half-split pairs (i, i+n_rot/2).
// The reference rotates in double. The fast path rotates in fp32 with cos/sin computed in double once
// per step and reused by every layer's q and k (a one-entry cache on the calling thread).
#include "backend/cpu/ops/ops.h"

#include <cmath>
#include <vector>

namespace bluecl::cpu {

namespace {

struct Angles {
  int64_t n_past = -1, n_tok = 0;
  float theta = 0.0f;
  int n_rot = 0;
  std::vector<float> cs, sn;  // [n_tok][n_rot/2]
};

const Angles& angles(int64_t n_past, int64_t n_tok, const RopeAttr& at) {
  thread_local Angles c;
  if (c.n_past == n_past && c.n_tok == n_tok && c.theta == at.theta && c.n_rot == at.n_rot) return c;
  const int half = at.n_rot / 2;
  c.cs.resize(n_tok * half);
  c.sn.resize(n_tok * half);
  for (int i = 0; i < half; ++i) {
    const double f = std::pow(static_cast<double>(at.theta), -2.0 * i / at.n_rot);
    for (int64_t t = 0; t < n_tok; ++t) {
      c.cs[t * half + i] = static_cast<float>(std::cos(static_cast<double>(n_past + t) * f));
      c.sn[t * half + i] = static_cast<float>(std::sin(static_cast<double>(n_past + t) * f));
    }
  }
  c.n_past = n_past, c.n_tok = n_tok, c.theta = at.theta, c.n_rot = at.n_rot;
  return c;
}

void rope_fast(const OpArgs& a) {
  const Shape& s = a.in(0).shape;
  const int64_t n_tok = s[0], n_head = s[1], hd = s[2];
  const RopeAttr& at = a.n.a<RopeAttr>();
  const int half = at.n_rot / 2;
  const Angles& an = angles(a.step.n_past, n_tok, at);
  const float* x = a.f(0);
  float* y = a.y();
  const bool adjacent = at.mode == RopeMode::Adjacent;
  a.pool.parallel_for(
      n_tok * n_head,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* cs = an.cs.data() + (r / n_head) * half;
          const float* sn = an.sn.data() + (r / n_head) * half;
          const float* xr = x + r * hd;
          float* yr = y + r * hd;
          for (int64_t i = at.n_rot; i < hd; ++i) yr[i] = xr[i];
          if (adjacent) {
            for (int i = 0; i < half; ++i) {
              const float x0 = xr[2 * i], x1 = xr[2 * i + 1];
              yr[2 * i] = x0 * cs[i] - x1 * sn[i];
              yr[2 * i + 1] = x0 * sn[i] + x1 * cs[i];
            }
          } else {
            for (int i = 0; i < half; ++i) {
              const float x0 = xr[i], x1 = xr[i + half];
              yr[i] = x0 * cs[i] - x1 * sn[i];
              yr[i + half] = x0 * sn[i] + x1 * cs[i];
            }
          }
        }
      },
      rows_grain(hd));
}

}  // namespace

void rope(const OpArgs& a) {
  if (a.fast) return rope_fast(a);
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
