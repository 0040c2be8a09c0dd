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
  const ClLaunch* tuned = a.rt.tuned("layer_norm");
  const std::string_view variant = a.rt.variant("layer_norm", tuned ? std::string_view(tuned->variant)
                                                              : a.rt.features.is_cpu ? "row"
                                                                                     : "wg");
  const bool row = variant == "row";
  const int kWg = tuned && tuned->variant == variant ? tuned->get("wg", 64) : 64;
  cl::Kernel& k = row ? a.rt.kernel(ClProgram::LayerNorm, {}, "layer_norm_row")
                      : a.rt.kernel(ClProgram::LayerNorm, ClDefines().set("WG", kWg), "layer_norm_wg");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *w.buf, w.off, *b.buf, b.off, *a.dst.buf, a.dst.off, n, rows,
              eps, has_w, has_b);
  if (row)
    a.rt.launch(k, cl::NDRange(rows));
  else
    a.rt.launch(k, cl::NDRange(size_t{rows} * kWg), cl::NDRange(kWg));
}

}  // namespace bluecl::clops
