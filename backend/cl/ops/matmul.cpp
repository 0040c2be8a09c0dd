// Variants: "gemv" (1 x 4 outputs per work-item: one token, decode), "tiled" (4 x 4 per work-item: many
// tokens, prefill and the ViT) and "rows" (matmul_rows.cl: each work-item streams a contiguous range of
// weight rows with explicit 16-wide vectors; quantised weights on CPU devices). Default: rows for up to 4
// rows of x with Q4_0/Q8_0 weights on a CPU device, else gemv for up to 4 rows, tiled beyond.
// Tunable (matmul_tuning_key): the variant; gemv: tn (outputs per work-item), wg (work-group size);
// tiled: tm x tn (tile per work-item), wg; rows: items (work-items per compute unit).
#include "backend/cl/ops/ops.h"

namespace bluecl::clops {

namespace {
int wtype(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q8_0: return 2;
    case DType::Q4_0: return 3;
    case DType::I32: break;
  }
  return -1;
}
}  // namespace

Support supports_matmul(const ClRuntime&, const Graph& g, const Node& n) {
  const TensorInfo& w = g.info(n.src[1]);
  if (wtype(w.dtype) < 0) return Support::no(fmt::format("matmul weight of type {}", dtype_name(w.dtype)));
  if (dtype_info(w.dtype).quantised && w.kind != TensorKind::Weight)
    return Support::no("quantised matmul operand that is not a weight");
  return Support::yes();
}

void matmul(const OpArgs& a) {
  const TensorInfo& xi = a.in(0);
  const TensorInfo& wi = a.in(1);
  const auto M = static_cast<cl_uint>(xi.shape.rows()), K = static_cast<cl_uint>(xi.shape.last());
  const auto N = static_cast<cl_uint>(wi.shape[0]);
  const ClWeightLayout l = cl_weight_layout(wi.dtype, N, K);
  const bool quant = wi.dtype == DType::Q4_0 || wi.dtype == DType::Q8_0;
  // No key is built (a string per launch) unless something was tuned.
  const ClLaunch* tuned = a.rt.tuning.choices().empty() ? nullptr : a.rt.tuned(matmul_tuning_key(wi.dtype, M));
  const std::string_view preferred = tuned                          ? std::string_view(tuned->variant)
                                     : M > 4                        ? "tiled"
                                     : quant && a.rt.features.is_cpu ? "rows"
                                                                    : "gemv";
  const std::string_view variant = a.rt.variant("matmul", preferred);
  if (tuned && variant != tuned->variant) tuned = nullptr;  // a forced variant runs with its defaults
  auto param = [&](const char* name, int fallback) { return tuned ? tuned->get(name, fallback) : fallback; };
  const Mem b = a.opt(2);
  if (variant == "rows" && quant && M <= 4) {
    // A few work-items per compute unit, each over its own contiguous rows (groups of one work-item).
    const size_t items = std::max<size_t>(1, a.rt.features.compute_units) * static_cast<size_t>(param("items", 4));
    const cl_uint per_item = static_cast<cl_uint>((N + items - 1) / items);
    ClDefines d;
    d.set("WTYPE", wtype(wi.dtype)).set("NB", K / 32);
    cl::Kernel& k = a.rt.kernel(ClProgram::MatmulRows, d, "matmul_rows");
    kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off + l.quant_offset,
                a.src[1].off + l.scale_offset, *b.buf, b.off, *a.dst.buf, a.dst.off, M, N, K,
                cl_int{a.has(2) ? 1 : 0}, per_item);
    a.rt.launch(k, cl::NDRange((N + per_item - 1) / per_item), cl::NDRange(1));
    return;
  }
  const bool tiled = variant == "tiled";
  const int tm = tiled ? param("tm", 4) : 1, tn = param("tn", 4);
  const size_t wg = static_cast<size_t>(param("wg", 16));
  ClDefines d;
  d.set("WTYPE", wtype(wi.dtype)).set("TM", tm).set("TN", tn);
  cl::Kernel& k = a.rt.kernel(ClProgram::Matmul, d, "matmul");
  kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off + l.quant_offset,
              a.src[1].off + l.scale_offset, *b.buf, b.off, *a.dst.buf, a.dst.off, M, N, K,
              cl_int{a.has(2) ? 1 : 0});
  const size_t gx = (N + tn - 1) / tn, gy = (M + tm - 1) / tm;
  a.rt.launch(k, cl::NDRange(round_up(gx, wg), gy), cl::NDRange(wg, 1));
}

}  // namespace bluecl::clops
