// Variants, for up to 4 rows of x (decode):
//   "vec"    matmul_vec.cl: a work-group covers a few weight rows, its lanes read consecutive 16-byte chunks
//            of a row (coalesced, GPU-style); partial sums reduced in local memory
//   "vec_sg" the same, reduced with subgroup functions (devices that can require a subgroup size)
//   "vec_h"  the same with fp16 products (cl_khr_fp16)
//   "rows"   matmul_rows.cl: each work-item streams its own contiguous rows (quantised weights, CPU devices)
//   "gemv"   matmul.cl with 1 x tn outputs per work-item (the portable fallback)
// and for more rows (prefill, the ViT):
//   "tile"   matmul_tile.cl: local-memory tiles of x and of the dequantised W, register blocking
//   "tile_h" the same with fp16 tiles and products (cl_khr_fp16)
//   "tile_dot" matmul_dot.cl: activations quantised to 8 bits per 32-block, integer dot products
//            (cl_khr_integer_dot_product; float weights and precise matmuls run "tile" instead)
//   "tiled"  matmul.cl with tm x tn outputs per work-item, no local memory
// Defaults: GPUs and other non-CPU devices take vec_sg (else vec) and tile; CPU devices keep the
// CPU-style kernels (rows for quantised weights, else gemv; tiled), which PoCL and Intel's CPU runtime run
// 1.5-3x faster than the GPU-style ones. `bluecl tune` measures every variant and launch.
// Tunable (matmul_tuning_key): vec*: lanes, rows; rows: items; gemv: tn, wg; tile*: see matmul_tile.cl;
// tiled: tm, tn, wg.
#include "backend/cl/ops/ops.h"

#include <algorithm>

namespace bluecl::clops {

namespace {

int wtype(DType t) {
  switch (t) {
    case DType::F32:
      return 0;
    case DType::F16:
      return 1;
    case DType::Q8_0:
      return 2;
    case DType::Q4_0:
      return 3;
    case DType::I32:
      break;
  }
  return -1;
}

bool is_pow2(int v) {
  return v > 0 && (v & (v - 1)) == 0;
}

// Everything one launch needs, read once from the node.
struct Mm {
  const OpArgs& a;
  const ClLaunch* tuned;
  cl_uint M, N, K;
  DType wt;
  ClWeightLayout l;
  Mem b;
  int param(const char* name, int fallback) const { return tuned ? tuned->get(name, fallback) : fallback; }
  void args(cl::Kernel& k) const {
    kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off + l.quant_offset,
                a.src[1].off + l.scale_offset, *b.buf, b.off, *a.dst.buf, a.dst.off);
  }
};

void run_rows(const Mm& m) {
  // A few work-items per compute unit, each over its own contiguous rows (groups of one work-item).
  const size_t items =
      std::max<size_t>(1, m.a.rt.features.compute_units) * static_cast<size_t>(m.param("items", 4));
  const auto per_item = static_cast<cl_uint>((m.N + items - 1) / items);
  ClDefines d;
  d.set("WTYPE", wtype(m.wt)).set("NB", m.K / 32);
  cl::Kernel& k = m.a.rt.kernel(ClProgram::MatmulRows, d, "matmul_rows");
  m.args(k);
  kernel_args_from(k, 9, m.M, m.N, m.K, cl_int{m.a.has(2) ? 1 : 0}, per_item);
  m.a.rt.launch(k, cl::NDRange((m.N + per_item - 1) / per_item), cl::NDRange(1));
}

void run_vec(const Mm& m, std::string_view variant) {
  const DeviceFeatures& f = m.a.rt.features;
  const bool sg = variant == "vec_sg", half = variant == "vec_h";
  // Lanes per row: the device's subgroup where one can be required, else 32; fewer for short rows.
  int lanes = m.param("lanes", 0);
  if (lanes == 0) {
    const auto& sizes = f.required_subgroup_sizes;
    lanes = sg && !sizes.empty() ? static_cast<int>(*std::max_element(sizes.begin(), sizes.end())) : 32;
    lanes = std::min(lanes, f.is_cpu ? 16 : 64);
  }
  const int rows = m.param("rows", std::max(1, (f.is_cpu ? 16 : 128) / lanes));
  if (!is_pow2(lanes) || rows < 1 ||
      static_cast<size_t>(lanes * rows) > std::max<size_t>(1, f.max_work_group_size))
    fail(Status::Unsupported, "matmul vec launch lanes={} rows={} does not fit this device", lanes, rows);
  if (sg && std::find(f.required_subgroup_sizes.begin(), f.required_subgroup_sizes.end(),
                      static_cast<size_t>(lanes)) == f.required_subgroup_sizes.end())
    fail(Status::Unsupported, "matmul vec_sg: this device cannot run subgroups of {}", lanes);
  if (half && !f.fp16) fail(Status::Unsupported, "matmul vec_h: the device has no fp16 arithmetic");
  ClDefines d;
  d.set("WTYPE", wtype(m.wt)).set("MR", m.M).set("LANES", lanes).set("ROWS", rows).set("SG", sg ? 1 : 0);
  d.set("HALF", half ? 1 : 0);
  if (half) m.a.rt.used(ClRuntime::Precision::Fp16);
  cl::Kernel& k = m.a.rt.kernel(ClProgram::MatmulVec, d, "matmul_vec");
  m.args(k);
  kernel_args_from(k, 9, m.N, m.K, cl_int{m.a.has(2) ? 1 : 0});
  m.a.rt.launch(k, cl::NDRange(lanes, round_up(m.N, rows)), cl::NDRange(lanes, rows));
}

void run_matmul_cl(const Mm& m, bool tiled) {
  const int tm = tiled ? m.param("tm", 4) : 1, tn = m.param("tn", 4);
  const size_t wg = static_cast<size_t>(m.param("wg", 16));
  ClDefines d;
  d.set("WTYPE", wtype(m.wt)).set("TM", tm).set("TN", tn);
  cl::Kernel& k = m.a.rt.kernel(ClProgram::Matmul, d, "matmul");
  m.args(k);
  kernel_args_from(k, 9, m.M, m.N, m.K, cl_int{m.a.has(2) ? 1 : 0});
  const size_t gx = (m.N + tn - 1) / tn, gy = (m.M + tm - 1) / tm;
  m.a.rt.launch(k, cl::NDRange(round_up(gx, wg), gy), cl::NDRange(wg, 1));
}

void run_tile(const Mm& m, std::string_view variant) {
  const DeviceFeatures& f = m.a.rt.features;
  const bool half = variant == "tile_h";
  if (half && !f.fp16) fail(Status::Unsupported, "matmul tile_h: the device has no fp16 arithmetic");
  // Output tile BM x BN per work-group of (BN / TN, BM / TM) work-items; K in steps of 32.
  const int tm = m.param("tm", 4), tn = m.param("tn", 4);
  const int bm = m.param("bm", f.is_cpu ? 32 : 64), bn = m.param("bn", 64);
  const int wx = bn / tn, wy = bm / tm;
  const size_t local_bytes = static_cast<size_t>(bm + bn) * 32 * (half ? 2 : 4);
  if (bm % tm != 0 || bn % tn != 0 || wx < 1 || wy < 1 ||
      static_cast<size_t>(wx * wy) > std::max<size_t>(1, f.max_work_group_size) ||
      local_bytes > f.local_mem_bytes)
    fail(Status::Unsupported, "matmul tile launch bm={} bn={} tm={} tn={} does not fit this device", bm, bn,
         tm, tn);
  ClDefines d;
  d.set("WTYPE", wtype(m.wt))
      .set("TM", tm)
      .set("TN", tn)
      .set("BM", bm)
      .set("BN", bn)
      .set("HALF", half ? 1 : 0);
  if (half) m.a.rt.used(ClRuntime::Precision::Fp16);
  cl::Kernel& k = m.a.rt.kernel(ClProgram::MatmulTile, d, "matmul_tile");
  m.args(k);
  kernel_args_from(k, 9, m.M, m.N, m.K, cl_int{m.a.has(2) ? 1 : 0});
  m.a.rt.launch(k, cl::NDRange(round_up((m.N + tn - 1) / tn, wx), round_up((m.M + tm - 1) / tm, wy)),
                cl::NDRange(wx, wy));
}

// 8-bit activations: quantize_rows into the runtime's scratch buffer (int8 values, then the block
// scales), then matmul_dot. Quantised weights only; never for precise matmuls (the caller checks).
void run_dot(const Mm& m) {
  const DeviceFeatures& f = m.a.rt.features;
  if (!f.int_dot) fail(Status::Unsupported, "matmul tile_dot: the device has no cl_khr_integer_dot_product");
  if (m.wt != DType::Q4_0 && m.wt != DType::Q8_0)
    fail(Status::Unsupported, "matmul tile_dot: {} weights (quantised weights only)", dtype_name(m.wt));
  const int tm = m.param("tm", 4), tn = m.param("tn", 4);
  const int bm = m.param("bm", 64), bn = m.param("bn", 64);
  const int wx = bn / tn, wy = bm / tm;
  if (bm % tm != 0 || bn % tn != 0 ||
      static_cast<size_t>(wx * wy) > std::max<size_t>(1, f.max_work_group_size))
    fail(Status::Unsupported, "matmul tile_dot launch bm={} bn={} tm={} tn={} does not fit this device", bm,
         bn, tm, tn);
  const size_t xq_bytes = round_up(static_cast<size_t>(m.M) * m.K, 256);
  const cl::Buffer& q = m.a.rt.scratch(xq_bytes + static_cast<size_t>(m.M) * (m.K / 32) * sizeof(float));
  m.a.rt.used(ClRuntime::Precision::Int8);
  const cl_ulong xq_off = 0, xd_off = xq_bytes;
  ClDefines d;
  d.set("WTYPE", wtype(m.wt)).set("TM", tm).set("TN", tn).set("BM", bm).set("BN", bn);
  cl::Kernel& kq = m.a.rt.kernel(ClProgram::MatmulDot, d, "quantize_rows");
  kernel_args(kq, *m.a.src[0].buf, m.a.src[0].off, q, xq_off, xd_off, m.K);
  m.a.rt.launch(kq, cl::NDRange(m.K / 32, m.M));
  cl::Kernel& k = m.a.rt.kernel(ClProgram::MatmulDot, d, "matmul_dot");
  kernel_args(k, q, xq_off, xd_off, *m.a.src[1].buf, m.a.src[1].off + m.l.quant_offset,
              m.a.src[1].off + m.l.scale_offset, *m.b.buf, m.b.off, *m.a.dst.buf, m.a.dst.off, m.M, m.N, m.K,
              cl_int{m.a.has(2) ? 1 : 0});
  m.a.rt.launch(k, cl::NDRange(round_up((m.N + tn - 1) / tn, wx), round_up((m.M + tm - 1) / tm, wy)),
                cl::NDRange(wx, wy));
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
  const bool quant = wi.dtype == DType::Q4_0 || wi.dtype == DType::Q8_0;
  const DeviceFeatures& f = a.rt.features;
  // No key is built (a string per launch) unless something was tuned.
  const ClLaunch* tuned =
      a.rt.tuning.choices().empty() ? nullptr : a.rt.tuned(matmul_tuning_key(wi.dtype, M));
  std::string_view preferred;
  if (tuned)
    preferred = tuned->variant;
  else if (f.is_cpu)
    preferred = M > 4 ? "tiled" : quant ? "rows" : "gemv";  // measured faster on CPU runtimes
  else if (M > 4)
    preferred = "tile";
  else
    preferred = f.required_subgroup_sizes.empty() ? "vec" : "vec_sg";
  const std::string_view variant = a.rt.variant("matmul", preferred);
  if (tuned && variant != tuned->variant) tuned = nullptr;  // a forced variant runs with its defaults
  const Mm m{a, tuned, M, N, K, wi.dtype, cl_weight_layout(wi.dtype, N, K), a.opt(2)};
  const bool few = M <= 4;
  if (variant == "rows" && quant && few) return run_rows(m);
  if (variant.starts_with("vec") && few) return run_vec(m, variant);
  if (variant == "gemv") return run_matmul_cl(m, false);
  if (variant == "tile_dot" && quant && !a.n.a<MatMulAttr>().precise) return run_dot(m);
  if (variant.starts_with("tile") && variant != "tiled")
    return run_tile(m, variant == "tile_dot" ? "tile" : variant);
  // "tiled", and the variants above where they do not apply (rows with float weights, vec beyond 4 rows).
  run_matmul_cl(m, !few || variant == "tiled");
}

}  // namespace bluecl::clops
