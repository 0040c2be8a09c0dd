// Variants: "row" (one work-item per row; CPU devices) and "wg" (a work-group per row; GPUs).
// Tunable: the variant; wg: wg (work-group size, a power of two).
#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {

Support supports_rms_norm(const ClRuntime&, const Graph& g, const Node& n) {
  return supports_f32_inputs(g, n);
}

void rms_norm(const OpArgs& a) {
  const TensorInfo& xi = a.in(0);
  const auto rows = static_cast<cl_uint>(xi.shape.rows()), n = static_cast<cl_uint>(xi.shape.last());
  const cl_int has_w = a.has(1) ? 1 : 0;
  const Mem w = a.opt(1);
  const float eps = a.n.a<RmsNormAttr>().eps;
  const ClLaunch* tuned = a.rt.tuned(ClTuningKey::rms_norm());
  const ClVariant preferred = tuned ? tuned->variant : a.rt.features.is_cpu ? ClVariant::Row : ClVariant::Wg;
  const ClVariant variant = a.rt.variant(OpKind::RmsNorm, preferred);
  if (variant == ClVariant::Row) {
    ClKernel& k = a.rt.kernel(ClProgram::RmsNorm, {}, "rms_norm_row");
    kernel_args(k, *a.src[0].buf, a.src[0].off, *w.buf, w.off, *a.dst.buf, a.dst.off, n, rows, eps, has_w);
    a.rt.launch(k, cl::NDRange(rows));
  } else {
    const int kWg = tuned && tuned->variant == variant ? tuned->p.wg.value_or(64) : 64;
    ClKernel& k = a.rt.kernel(ClProgram::RmsNorm, ClDefines().set(ClDef::WG, kWg), "rms_norm_wg");
    kernel_args(k, *a.src[0].buf, a.src[0].off, *w.buf, w.off, *a.dst.buf, a.dst.off, n, rows, eps, has_w);
    a.rt.launch(k, cl::NDRange(size_t{rows} * kWg), cl::NDRange(kWg));
  }
}

}  // namespace bluecl::clops
