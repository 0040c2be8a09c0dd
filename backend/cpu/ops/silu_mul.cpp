#include "backend/cpu/ops/elementwise.h"

#include <cmath>

namespace bluecl::cpu {
void silu_mul(const OpArgs& a) {
  binary_rows(a, [](float g, float u) { return static_cast<float>(g / (1.0 + std::exp(-double(g))) * u); });
}
}  // namespace bluecl::cpu
