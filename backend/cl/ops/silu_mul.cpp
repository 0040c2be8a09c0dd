#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {

Support supports_silu_mul(const ClRuntime&, const Graph& g, const Node& n) {
  return supports_f32_inputs(g, n);
}

void silu_mul(const OpArgs& a) {
  const auto n = static_cast<cl_uint>(a.in(0).shape.numel());
  ClKernel& k = a.rt.kernel(ClProgram::SiluMul, {}, "silu_mul");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off, *a.dst.buf, a.dst.off, n);
  launch_elements(a.rt, k, n);
}

}  // namespace bluecl::clops
