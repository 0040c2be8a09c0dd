#include "backend/cl/ops/ops.h"

namespace bluecl::clops {

Support supports_get_rows(const ClRuntime&, const Graph& g, const Node& n) {
  const TensorInfo& t = g.info(n.src[0]);
  if (t.dtype == DType::I32) return Support::no("get_rows from an i32 table");
  if (dtype_info(t.dtype).quantised && t.kind != TensorKind::Weight)
    return Support::no("get_rows from a quantised table that is not a weight");
  return Support::yes();
}

void get_rows(const OpArgs& a) {
  const TensorInfo& ti = a.in(0);
  const auto n_rows = static_cast<cl_uint>(ti.shape[0]), D = static_cast<cl_uint>(ti.shape[1]);
  const int64_t n = a.in(1).shape[0];
  const ClWeightLayout l = cl_weight_layout(ti.dtype, n_rows, D);
  ClKernel& k =
      a.rt.kernel(ClProgram::GetRows, ClDefines().set(ClDef::TTYPE, static_cast<int>(ti.dtype)), "get_rows");
  kernel_args(k, *a.src[0].buf, a.src[0].off + l.quant_offset, a.src[0].off + l.scale_offset, *a.src[1].buf,
              a.src[1].off, *a.dst.buf, a.dst.off, D, n_rows);
  a.rt.launch(k, cl::NDRange(round_up(D, 64), static_cast<size_t>(n)), cl::NDRange(64, 1));
}

}  // namespace bluecl::clops
