// y[b, py*ow + px, (c*p + ky)*p + kx] = image[b, c, py*p + ky, px*p + kx]: non-overlapping patches
// (stride = patch), in PyTorch's conv weight order (c, kh, kw); trailing pixels past the last whole
// patch are ignored.
#include "backend/cpu/ops/ops.h"

namespace bluecl::cpu {

void im2col(const OpArgs& a) {
  const Shape& s = a.in(0).shape;
  const int64_t B = s[0], C = s[1], H = s[2], W = s[3];
  const int64_t p = a.n.a<Im2ColAttr>().patch, oh = H / p, ow = W / p, cols = C * p * p;
  const float* x = a.f(0);
  float* y = a.y();
  a.pool.parallel_for(B * oh * ow, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / (oh * ow), py = (r / ow) % oh, px = r % ow;
      float* yr = y + r * cols;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t ky = 0; ky < p; ++ky)
          for (int64_t kx = 0; kx < p; ++kx)
            yr[(c * p + ky) * p + kx] = x[((b * C + c) * H + py * p + ky) * W + px * p + kx];
    }
  });
}

}  // namespace bluecl::cpu
