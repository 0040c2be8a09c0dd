#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {

Support supports_concat(const ClRuntime&, const Graph& g, const Node& n) { return supports_f32_inputs(g, n); }

void concat(const OpArgs& a) {
  const Shape& as = a.in(0).shape;
  const Shape& bs = a.in(1).shape;
  const int axis = a.n.a<ConcatAttr>().axis;
  int64_t outer = 1, a_in = 1, b_in = 1;
  for (int i = 0; i < axis; ++i) outer *= as[i];
  for (int i = axis; i < as.rank; ++i) {
    a_in *= as[i];
    b_in *= bs[i];
  }
  cl::Kernel& k = a.rt.kernel(ClProgram::Concat, {}, "concat");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off, *a.dst.buf, a.dst.off,
              static_cast<cl_uint>(a_in), static_cast<cl_uint>(b_in));
  a.rt.launch(k, cl::NDRange(round_up(a_in + b_in, 64), static_cast<size_t>(outer)), cl::NDRange(64, 1));
}

}  // namespace bluecl::clops
