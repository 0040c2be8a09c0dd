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
//   "cols"   matmul_cols.cl: a work-item per output column and tm rows of x, written for CPU runtimes that
//            vectorise across work-items (Intel's: 16 columns to one AVX-512 register; "tiled" is not
//            vectorised there)
// Defaults: GPUs and other non-CPU devices take vec_sg (else vec) and tile; CPU devices keep the
// CPU-style kernels (rows for quantised weights, else gemv; cols where the runtime packs work-items into
// SIMD lanes, else tiled), which PoCL and Intel's CPU runtime run 1.5-3x faster than the GPU-style ones.
// `bluecl tune` measures every variant and launch. Tunable (ClTuningKey::matmul, ClLaunchParams): vec*:
// lanes, rows; rows: items; gemv: tn, wg; tile*: bm, bn, tm, tn (see matmul_tile.cl); tiled: tm, tn, wg;
// cols: tm, wg.
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
  const ClLaunchParams& p;  // the tuned launch's parameters, or none set
  cl_uint M, N, K;
  DType wt;
  ClWeightLayout l;
  Mem b;
  void args(ClKernel& k) const {
    kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off + l.quant_offset,
                a.src[1].off + l.scale_offset, *b.buf, b.off, *a.dst.buf, a.dst.off);
  }
};

void run_rows(const Mm& m) {
  // A few work-items per compute unit, each over its own contiguous rows (groups of one work-item).
  const size_t items =
      std::max<size_t>(1, m.a.rt.features.compute_units) * static_cast<size_t>(m.p.items.value_or(4));
  const auto per_item = static_cast<cl_uint>((m.N + items - 1) / items);
  ClDefines d;
  d.set(ClDef::WTYPE, wtype(m.wt)).set(ClDef::NB, m.K / 32);
  ClKernel& k = m.a.rt.kernel(ClProgram::MatmulRows, d, "matmul_rows");
  m.args(k);
  kernel_args_from(k, 9, m.M, m.N, m.K, cl_int{m.a.has(2) ? 1 : 0}, per_item);
  m.a.rt.launch(k, cl::NDRange((m.N + per_item - 1) / per_item), cl::NDRange(1));
}

void run_vec(const Mm& m, ClVariant variant) {
  const DeviceFeatures& f = m.a.rt.features;
  const bool sg = variant == ClVariant::VecSg, half = variant == ClVariant::VecH;
  // Lanes per row: the device's subgroup where one can be required, else 32; fewer for short rows.
  int lanes = m.p.lanes.value_or(0);
  if (lanes == 0) {
    const auto& sizes = f.required_subgroup_sizes;
    lanes = sg && !sizes.empty() ? static_cast<int>(*std::max_element(sizes.begin(), sizes.end())) : 32;
    lanes = std::min(lanes, f.is_cpu ? 16 : 64);
  }
  const int rows = m.p.rows.value_or(std::max(1, (f.is_cpu ? 16 : 128) / lanes));
  if (!is_pow2(lanes) || rows < 1 ||
      static_cast<size_t>(lanes * rows) > std::max<size_t>(1, f.max_work_group_size))
    fail(Status::Unsupported, "matmul vec launch lanes={} rows={} does not fit this device", lanes, rows);
  if (sg && std::find(f.required_subgroup_sizes.begin(), f.required_subgroup_sizes.end(),
                      static_cast<size_t>(lanes)) == f.required_subgroup_sizes.end())
    fail(Status::Unsupported, "matmul vec_sg: this device cannot run subgroups of {}", lanes);
  if (half && !f.fp16) fail(Status::Unsupported, "matmul vec_h: the device has no fp16 arithmetic");
  ClDefines d;
  d.set(ClDef::WTYPE, wtype(m.wt))
      .set(ClDef::MR, m.M)
      .set(ClDef::LANES, lanes)
      .set(ClDef::ROWS, rows)
      .set(ClDef::SG, sg ? 1 : 0);
  d.set(ClDef::HALF, half ? 1 : 0);
  if (half) m.a.rt.used(ClRuntime::Precision::Fp16);
  ClKernel& k = m.a.rt.kernel(ClProgram::MatmulVec, d, "matmul_vec");
  m.args(k);
  kernel_args_from(k, 9, m.N, m.K, cl_int{m.a.has(2) ? 1 : 0});
  m.a.rt.launch(k, cl::NDRange(lanes, round_up(m.N, rows)), cl::NDRange(lanes, rows));
}

void run_matmul_cl(const Mm& m, bool tiled) {
  const int tm = tiled ? m.p.tm.value_or(4) : 1, tn = m.p.tn.value_or(4);
  const size_t wg = static_cast<size_t>(m.p.wg.value_or(16));
  ClDefines d;
  d.set(ClDef::WTYPE, wtype(m.wt)).set(ClDef::TM, tm).set(ClDef::TN, tn);
  ClKernel& k = m.a.rt.kernel(ClProgram::Matmul, d, "matmul");
  m.args(k);
  kernel_args_from(k, 9, m.M, m.N, m.K, cl_int{m.a.has(2) ? 1 : 0});
  const size_t gx = (m.N + tn - 1) / tn, gy = (m.M + tm - 1) / tm;
  m.a.rt.launch(k, cl::NDRange(round_up(gx, wg), gy), cl::NDRange(wg, 1));
}

void run_cols(const Mm& m) {
  const int tm = m.p.tm.value_or(16);
  const size_t wg = static_cast<size_t>(m.p.wg.value_or(16));
  ClDefines d;
  d.set(ClDef::WTYPE, wtype(m.wt)).set(ClDef::TM, tm);
  ClKernel& k = m.a.rt.kernel(ClProgram::MatmulCols, d, "matmul_cols");
  m.args(k);
  kernel_args_from(k, 9, m.M, m.N, m.K, cl_int{m.a.has(2) ? 1 : 0});
  m.a.rt.launch(k, cl::NDRange(round_up(m.N, wg), (m.M + tm - 1) / tm), cl::NDRange(wg, 1));
}

void run_tile(const Mm& m, ClVariant variant) {
  const DeviceFeatures& f = m.a.rt.features;
  const bool half = variant == ClVariant::TileH;
  if (half && !f.fp16) fail(Status::Unsupported, "matmul tile_h: the device has no fp16 arithmetic");
  // Output tile BM x BN per work-group of (BN / TN, BM / TM) work-items; K in steps of 32.
  const int tm = m.p.tm.value_or(4), tn = m.p.tn.value_or(4);
  const int bm = m.p.bm.value_or(f.is_cpu ? 32 : 64), bn = m.p.bn.value_or(64);
  const int wx = bn / tn, wy = bm / tm;
  const size_t local_bytes = static_cast<size_t>(bm + bn) * 32 * (half ? 2 : 4);
  if (bm % tm != 0 || bn % tn != 0 || wx < 1 || wy < 1 ||
      static_cast<size_t>(wx * wy) > std::max<size_t>(1, f.max_work_group_size) ||
      local_bytes > f.local_mem_bytes)
    fail(Status::Unsupported, "matmul tile launch bm={} bn={} tm={} tn={} does not fit this device", bm, bn,
         tm, tn);
  ClDefines d;
  d.set(ClDef::WTYPE, wtype(m.wt))
      .set(ClDef::TM, tm)
      .set(ClDef::TN, tn)
      .set(ClDef::BM, bm)
      .set(ClDef::BN, bn)
      .set(ClDef::HALF, half ? 1 : 0);
  if (half) m.a.rt.used(ClRuntime::Precision::Fp16);
  ClKernel& k = m.a.rt.kernel(ClProgram::MatmulTile, d, "matmul_tile");
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
  const int tm = m.p.tm.value_or(4), tn = m.p.tn.value_or(4);
  const int bm = m.p.bm.value_or(64), bn = m.p.bn.value_or(64);
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
  d.set(ClDef::WTYPE, wtype(m.wt))
      .set(ClDef::TM, tm)
      .set(ClDef::TN, tn)
      .set(ClDef::BM, bm)
      .set(ClDef::BN, bn);
  ClKernel& kq = m.a.rt.kernel(ClProgram::MatmulDot, d, "quantize_rows");
  kernel_args(kq, *m.a.src[0].buf, m.a.src[0].off, q, xq_off, xd_off, m.K);
  m.a.rt.launch(kq, cl::NDRange(m.K / 32, m.M));
  ClKernel& k = m.a.rt.kernel(ClProgram::MatmulDot, d, "matmul_dot");
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
  const ClLaunch* tuned = a.rt.tuned(ClTuningKey::matmul(wi.dtype, M));
  using V = ClVariant;
  V preferred;
  if (tuned)
    preferred = tuned->variant;
  else if (f.is_cpu)
    // Measured faster on CPU runtimes (cols 1.3-4x tiled on Intel's, 3x slower on PoCL's).
    preferred = M > 4 ? (f.simd_work_items ? V::Cols : V::Tiled) : quant ? V::Rows : V::Gemv;
  else if (M > 4)
    preferred = V::Tile;
  else
    preferred = f.required_subgroup_sizes.empty() ? V::Vec : V::VecSg;
  const V variant = a.rt.variant(OpKind::MatMul, preferred);
  static const ClLaunchParams kDefaults;
  // A forced variant runs with its defaults.
  const ClLaunchParams& p = tuned && variant == tuned->variant ? tuned->p : kDefaults;
  const Mm m{a, p, M, N, K, wi.dtype, cl_weight_layout(wi.dtype, N, K), a.opt(2)};
  const bool few = M <= 4;
  switch (variant) {
    case V::Rows:
      if (quant && few) return run_rows(m);
      break;
    case V::Vec:
    case V::VecSg:
    case V::VecH:
      if (few) return run_vec(m, variant);
      break;
    case V::Gemv:
      return run_matmul_cl(m, false);
    case V::TileDot:
      if (quant && !a.n.a<MatMulAttr>().precise) return run_dot(m);
      return run_tile(m, V::Tile);
    case V::Tile:
    case V::TileH:
      return run_tile(m, variant);
    case V::Cols:
      if (!few) return run_cols(m);
      break;
    default:
      break;
  }
  // "tiled", and the variants above where they do not apply (rows with float weights, vec beyond 4 rows).
  run_matmul_cl(m, !few || variant == V::Tiled);
}

}  // namespace bluecl::clops
