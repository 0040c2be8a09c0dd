#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {
Support supports_mul(const ClRuntime&, const Graph& g, const Node& n) {
  return supports_f32_inputs(g, n);
}
void mul(const OpArgs& a) {
  binary_rows(a, ClProgram::Mul, "mul");
}
}  // namespace bluecl::clops
