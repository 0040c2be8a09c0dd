#include "backend/cpu/ops/elementwise.h"

namespace bluecl::cpu {
void scale(const OpArgs& a) {
  const float s = a.n.a<ScaleAttr>().scale;
  unary(a, [s](float x) { return x * s; });
}
}  // namespace bluecl::cpu
