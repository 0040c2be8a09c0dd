#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {

Support supports_concat(const ClRuntime&, const Graph& g, const Node& n) {
  return supports_f32_inputs(g, n);
}

void concat(const OpArgs& a) {
  const auto [outer, a_in, b_in] = concat_geometry(a.in(0).shape, a.in(1).shape, a.n.a<ConcatAttr>().axis);
  ClKernel& k = a.rt.kernel(ClProgram::Concat, {}, "concat");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off, *a.dst.buf, a.dst.off,
              static_cast<cl_uint>(a_in), static_cast<cl_uint>(b_in));
  a.rt.launch(k, cl::NDRange(round_up(a_in + b_in, 64), static_cast<size_t>(outer)), cl::NDRange(64, 1));
}

}  // namespace bluecl::clops
