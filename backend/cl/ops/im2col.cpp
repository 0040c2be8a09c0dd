#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {

Support supports_im2col(const ClRuntime&, const Graph& g, const Node& n) {
  return supports_f32_inputs(g, n);
}

void im2col(const OpArgs& a) {
  const Shape& s = a.in(0).shape;
  const int64_t p = a.n.a<Im2ColAttr>().patch;
  const int64_t rows = s[0] * (s[2] / p) * (s[3] / p), cols = s[1] * p * p;
  ClKernel& k = a.rt.kernel(ClProgram::Im2col, {}, "im2col");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.dst.buf, a.dst.off, static_cast<cl_uint>(s[1]),
              static_cast<cl_uint>(s[2]), static_cast<cl_uint>(s[3]), static_cast<cl_uint>(p));
  a.rt.launch(k, cl::NDRange(round_up(cols, 64), static_cast<size_t>(rows)), cl::NDRange(64, 1));
}

}  // namespace bluecl::clops
