#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {

Support supports_downsample(const ClRuntime&, const Graph& g, const Node& n) {
  return supports_f32_inputs(g, n);
}

void downsample(const OpArgs& a) {
  const Shape& s = a.in(0).shape;
  const int64_t g = s[1], C = s[3], h = (g + 1) / 2;
  ClKernel& k = a.rt.kernel(
      ClProgram::Downsample,
      ClDefines().set(ClDef::COLUMN_MAJOR, a.n.a<DownsampleAttr>().column_major ? 1 : 0), "downsample");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.dst.buf, a.dst.off, static_cast<cl_uint>(g),
              static_cast<cl_uint>(C));
  a.rt.launch(k, cl::NDRange(round_up(4 * C, 64), static_cast<size_t>(s[0] * h * h)), cl::NDRange(64, 1));
}

}  // namespace bluecl::clops
