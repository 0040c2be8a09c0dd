#include "backend/cpu/ops/elementwise.h"

namespace bluecl::cpu {
void add(const OpArgs& a) {
  binary_rows(a, [](float x, float b) { return x + b; });
}
}  // namespace bluecl::cpu
