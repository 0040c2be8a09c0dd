#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {

Support supports_gelu(const ClRuntime&, const Graph& g, const Node& n) {
  return supports_f32_inputs(g, n);
}

void gelu(const OpArgs& a) {
  const auto n = static_cast<cl_uint>(a.in(0).shape.numel());
  const bool erf = a.n.a<GeluAttr>().mode == GeluMode::Erf;
  ClKernel& k = a.rt.kernel(ClProgram::Gelu, ClDefines().set(ClDef::GELU_ERF, erf ? 1 : 0), "gelu");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.dst.buf, a.dst.off, n);
  launch_elements(a.rt, k, n);
}

}  // namespace bluecl::clops
