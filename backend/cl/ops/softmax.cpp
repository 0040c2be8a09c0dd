#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {

Support supports_softmax(const ClRuntime&, const Graph& g, const Node& n) {
  return supports_f32_inputs(g, n);
}

void softmax(const OpArgs& a) {
  const TensorInfo& xi = a.in(0);
  const auto rows = static_cast<cl_uint>(xi.shape.rows()), n = static_cast<cl_uint>(xi.shape.last());
  ClKernel& k = a.rt.kernel(ClProgram::Softmax, {}, "softmax");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.dst.buf, a.dst.off, n, rows, a.n.a<SoftMaxAttr>().scale);
  a.rt.launch(k, cl::NDRange(rows));
}

}  // namespace bluecl::clops
