#include "backend/cl/ops/elementwise.h"

#include <cmath>

namespace bluecl::clops {

Support supports_rope(const ClRuntime&, const Graph& g, const Node& n) {
  if (g.info(n.src[0]).shape[2] % 2 != 0) return Support::no("rope over an odd head dimension");
  return supports_f32_inputs(g, n);
}

void rope(const OpArgs& a) {
  const Shape& s = a.in(0).shape;
  const RopeAttr& at = a.n.a<RopeAttr>();
  const auto n_head = static_cast<cl_uint>(s[1]), hd = static_cast<cl_uint>(s[2]);
  ClKernel& k = a.rt.kernel(
      ClProgram::Rope, ClDefines().set(ClDef::HALF_SPLIT, at.mode == RopeMode::HalfSplit ? 1 : 0), "rope");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.dst.buf, a.dst.off, n_head, hd,
              static_cast<cl_uint>(at.n_rot), cl_int{a.step.n_past},
              static_cast<float>(std::log2(static_cast<double>(at.theta))));
  a.rt.launch(k, cl::NDRange(hd / 2, static_cast<size_t>(s[0] * s[1])));
}

}  // namespace bluecl::clops
