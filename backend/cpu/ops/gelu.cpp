#include "backend/cpu/ops/elementwise.h"

#include <cmath>

namespace bluecl::cpu {
void gelu(const OpArgs& a) {
  if (a.n.a<GeluAttr>().mode == GeluMode::Erf) {
    unary(a, [](float x) { return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)))); });
  } else {
    const double c = std::sqrt(2.0 / M_PI);
    unary(a, [c](float x) {
      const double v = x;
      return static_cast<float>(0.5 * v * (1.0 + std::tanh(c * (v + 0.044715 * v * v * v))));
    });
  }
}
}  // namespace bluecl::cpu
