// Launch helpers shared by the elementwise ops (add, mul, scale, silu_mul, gelu): one work-item per
// element in work-groups of 64.
#pragma once

#include "backend/cl/ops/ops.h"

namespace bluecl::clops {

inline Support supports_f32_inputs(const Graph& g, const Node& n) {
  for (int i = 0; i < n.n_src; ++i)
    if (g.info(n.src[i]).dtype != DType::F32)
      return Support::no(
          fmt::format("{} input of type {}", op_name(n.kind), dtype_name(g.info(n.src[i]).dtype)));
  return Support::yes();
}

inline void launch_elements(ClRuntime& rt, ClKernel& k, uint64_t n) {
  rt.launch(k, cl::NDRange(n), cl::NDRange(64));
}

// y = f(a, b) with b the same shape as a or one broadcast row (add.cl, mul.cl).
inline void binary_rows(const OpArgs& a, ClProgram p, const char* name) {
  const auto n = static_cast<cl_uint>(a.in(0).shape.numel());
  const auto nb = static_cast<cl_uint>(a.in(1).shape.numel());
  ClKernel& k = a.rt.kernel(p, {}, name);
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off, *a.dst.buf, a.dst.off, n, nb);
  launch_elements(a.rt, k, n);
}

}  // namespace bluecl::clops
