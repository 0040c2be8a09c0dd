// y = concat(a, b) along `axis`: for each outer index, a's inner block then b's.
#include "backend/cpu/ops/ops.h"

#include <cstring>

namespace bluecl::cpu {

void concat(const OpArgs& a) {
  const auto [outer, a_in, b_in] = concat_geometry(a.in(0).shape, a.in(1).shape, a.n.a<ConcatAttr>().axis);
  const float* x = a.f(0);
  const float* z = a.f(1);
  float* y = a.y();
  for (int64_t o = 0; o < outer; ++o) {
    std::memcpy(y + o * (a_in + b_in), x + o * a_in, a_in * sizeof(float));
    std::memcpy(y + o * (a_in + b_in) + a_in, z + o * b_in, b_in * sizeof(float));
  }
}

}  // namespace bluecl::cpu
