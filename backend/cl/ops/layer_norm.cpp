// Variants: "row" (one work-item per row; CPU devices) and "wg" (a work-group per row; GPUs).
// Tunable: the variant; wg: wg (work-group size, a power of two).
#include "backend/cl/ops/elementwise.h"

namespace bluecl::clops {

Support supports_layer_norm(const ClRuntime&, const Graph& g, const Node& n) {
  return supports_f32_inputs(g, n);
}

void layer_norm(const OpArgs& a) {
  const TensorInfo& xi = a.in(0);
  const auto rows = static_cast<cl_uint>(xi.shape.rows()), n = static_cast<cl_uint>(xi.shape.last());
  const Mem w = a.opt(1), b = a.opt(2);
  const cl_int has_w = a.has(1), has_b = a.has(2);
  const float eps = a.n.a<LayerNormAttr>().eps;
  const ClLaunch* tuned = a.rt.tuned(ClTuningKey::layer_norm());
  const ClVariant preferred = tuned ? tuned->variant : a.rt.features.is_cpu ? ClVariant::Row : ClVariant::Wg;
  const ClVariant variant = a.rt.variant(OpKind::LayerNorm, preferred);
  const bool row = variant == ClVariant::Row;
  const int kWg = tuned && tuned->variant == variant ? tuned->p.wg.value_or(64) : 64;
  ClKernel& k = row ? a.rt.kernel(ClProgram::LayerNorm, {}, "layer_norm_row")
                    : a.rt.kernel(ClProgram::LayerNorm, ClDefines().set(ClDef::WG, kWg), "layer_norm_wg");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *w.buf, w.off, *b.buf, b.off, *a.dst.buf, a.dst.off, n, rows,
              eps, has_w, has_b);
  if (row)
    a.rt.launch(k, cl::NDRange(rows));
  else
    a.rt.launch(k, cl::NDRange(size_t{rows} * kWg), cl::NDRange(kWg));
}

}  // namespace bluecl::clops
