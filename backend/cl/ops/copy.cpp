#include "backend/cl/ops/ops.h"

namespace bluecl::clops {

Support supports_copy(const ClRuntime&, const Graph& g, const Node& n) {
  if (g.info(n.src[0]).kind == TensorKind::Weight && dtype_info(g.info(n.src[0]).dtype).quantised)
    return Support::no("copy of a re-laid-out quantised weight");
  return Support::yes();
}

void convert_rows(const OpArgs& a, DType st, Mem src, DType dt, Mem dst, int64_t rows, int64_t n) {
  // DType's numbering (F32, F16, Q8_0, Q4_0) is the ST/DT numbering of copy.cl.
  ClKernel& k = a.rt.kernel(
      ClProgram::Copy, ClDefines().set(ClDef::ST, static_cast<int>(st)).set(ClDef::DT, static_cast<int>(dt)),
      "copy");
  kernel_args(k, *src.buf, src.off, *dst.buf, dst.off, static_cast<cl_uint>(n), static_cast<cl_uint>(rows));
  a.rt.launch(k, cl::NDRange((n + 31) / 32, static_cast<size_t>(rows)));
}

void copy(const OpArgs& a) {
  const TensorInfo& xi = a.in(0);
  convert_rows(a, xi.dtype, a.src[0], a.out().dtype, a.dst, xi.shape.rows(), xi.shape.last());
}

}  // namespace bluecl::clops
