#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {
Support supports_add(const ClRuntime&, const Graph& g, const Node& n) {
  return supports_f32_inputs(g, n);
}
void add(const OpArgs& a) {
  binary_rows(a, ClProgram::Add, "add");
}
}  // namespace bluecl::clops
