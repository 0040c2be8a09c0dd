// swiglu: y = silu(x @ Wg^T) * (x @ Wu^T). Variants, for up to 4 rows of x (decode), one launch each:
//   "vec"    swiglu.cl:swiglu_vec, GPU-style (matmul_vec's scheme), every weight type
//   "vec_sg" the same, reduced with subgroup functions (devices that can require a subgroup size)
//   "rows"   swiglu.cl:swiglu_rows, CPU-style (matmul_rows's scheme), quantised weights
// and "split": the gate matmul into y, the up matmul into the runtime's scratch (each with matmul's own
// choice of variant), then silu_mul.cl in place: any number of rows (prefill), and the variants above where
// they do not apply. Defaults for few rows: CPU devices rows for quantised weights, else split (matmul's
// gemv, measured faster there than the GPU-style kernels); other devices vec_sg, else vec.
#include "backend/cl/ops/ops.h"

#include <algorithm>

namespace bluecl::clops {

namespace {

bool is_pow2(int v) {
  return v > 0 && (v & (v - 1)) == 0;
}

struct Sw {
  const OpArgs& a;
  cl_uint M, N, K;
  DType wt;
  ClWeightLayout l;
  int wtype() const { return static_cast<int>(wt); }  // DType F32, F16, Q8_0, Q4_0 = WTYPE 0-3
  void args(ClKernel& k) const {
    kernel_args(k, *a.src[0].buf, a.src[0].off, *a.src[1].buf, a.src[1].off + l.quant_offset,
                a.src[1].off + l.scale_offset, *a.src[2].buf, a.src[2].off + l.quant_offset,
                a.src[2].off + l.scale_offset, *a.dst.buf, a.dst.off);
  }
};
static_assert(static_cast<int>(DType::F32) == 0 && static_cast<int>(DType::F16) == 1 &&
              static_cast<int>(DType::Q8_0) == 2 && static_cast<int>(DType::Q4_0) == 3);

void run_rows(const Sw& s) {
  const size_t items = std::max<size_t>(1, s.a.rt.features.compute_units) * 4;
  const auto per_item = static_cast<cl_uint>((s.N + items - 1) / items);
  ClDefines d;
  d.set(ClDef::WTYPE, s.wtype()).set(ClDef::NB, s.K / 32);
  ClKernel& k = s.a.rt.kernel(ClProgram::Swiglu, d, "swiglu_rows");
  s.args(k);
  kernel_args_from(k, 10, s.M, s.N, s.K, per_item);
  s.a.rt.launch(k, cl::NDRange((s.N + per_item - 1) / per_item), cl::NDRange(1));
}

void run_vec(const Sw& s, bool sg) {
  const DeviceFeatures& f = s.a.rt.features;
  const auto& sizes = f.required_subgroup_sizes;
  int lanes = sg && !sizes.empty() ? static_cast<int>(*std::max_element(sizes.begin(), sizes.end())) : 32;
  lanes = std::min(lanes, f.is_cpu ? 16 : 64);
  const int rows = std::max(1, (f.is_cpu ? 16 : 128) / lanes);
  if (!is_pow2(lanes) || static_cast<size_t>(lanes * rows) > std::max<size_t>(1, f.max_work_group_size))
    fail(Status::Unsupported, "swiglu vec launch lanes={} rows={} does not fit this device", lanes, rows);
  if (sg && std::find(sizes.begin(), sizes.end(), static_cast<size_t>(lanes)) == sizes.end())
    fail(Status::Unsupported, "swiglu vec_sg: this device cannot run subgroups of {}", lanes);
  ClDefines d;
  d.set(ClDef::WTYPE, s.wtype()).set(ClDef::MR, s.M).set(ClDef::LANES, lanes).set(ClDef::ROWS, rows);
  d.set(ClDef::SG, sg ? 1 : 0);
  ClKernel& k = s.a.rt.kernel(ClProgram::Swiglu, d, "swiglu_vec");
  s.args(k);
  kernel_args_from(k, 10, s.N, s.K);
  s.a.rt.launch(k, cl::NDRange(lanes, round_up(s.N, rows)), cl::NDRange(lanes, rows));
}

// The matmul of x with weight input `w` (1 gate, 2 up) into `dst`, as a MatMul node of the same graph.
void matmul_into(const OpArgs& a, int w, Mem dst) {
  Node mm{.kind = OpKind::MatMul, .attr = MatMulAttr{}};
  mm.src[0] = a.n.src[0];
  mm.src[1] = a.n.src[w];
  mm.n_src = 2;
  mm.out = a.n.out;  // [.., N] as the matmul's output
  matmul(OpArgs{a.rt, a.g, mm, a.step, {a.src[0], a.src[w]}, dst, {a.src_info[0], a.src_info[w]}});
}

void run_split(const Sw& s) {
  // matmul's tile_dot keeps its 8-bit activations and their scales at the start of the scratch buffer
  // (matmul.cpp, run_dot): up goes after the most that can take, asked for first so that it is not moved.
  const size_t reserve = round_up(static_cast<size_t>(s.M) * s.K * 2 + 256, 256);
  const cl::Buffer& scratch = s.a.rt.scratch(reserve + static_cast<size_t>(s.M) * s.N * sizeof(float));
  const Mem up{&scratch, reserve};
  matmul_into(s.a, 1, s.a.dst);
  matmul_into(s.a, 2, up);
  Node act{.kind = OpKind::SiluMul, .attr = SiluMulAttr{}};
  act.src[0] = act.src[1] = act.out = s.a.n.out;
  act.n_src = 2;
  TensorInfo yi = s.a.out();  // [M, N]: N is a part's rows when the backend runs a split weight per part
  yi.shape = Shape{static_cast<int64_t>(s.M), static_cast<int64_t>(s.N)};
  silu_mul(OpArgs{s.a.rt, s.a.g, act, s.a.step, {s.a.dst, up}, s.a.dst, {&yi, &yi}});
}

}  // namespace

Support supports_swiglu(const ClRuntime&, const Graph& g, const Node& n) {
  for (int i : {1, 2}) {
    const TensorInfo& w = g.info(n.src[i]);
    if (w.dtype == DType::I32) return Support::no("swiglu weight of type i32");
    if (dtype_info(w.dtype).quantised && w.kind != TensorKind::Weight)
      return Support::no("quantised swiglu operand that is not a weight");
  }
  return Support::yes();
}

void swiglu(const OpArgs& a) {
  const TensorInfo& xi = a.in(0);
  const TensorInfo& wi = a.in(1);
  const Sw s{a,
             static_cast<cl_uint>(xi.shape.rows()),
             static_cast<cl_uint>(wi.shape[0]),
             static_cast<cl_uint>(xi.shape.last()),
             wi.dtype,
             cl_weight_layout(wi.dtype, wi.shape[0], wi.shape[1])};
  const bool quant = dtype_info(s.wt).quantised, few = s.M <= 4;
  const DeviceFeatures& f = a.rt.features;
  ClVariant preferred = ClVariant::Split;
  if (few && f.is_cpu && quant)
    preferred = ClVariant::Rows;
  else if (few && !f.is_cpu)
    preferred = f.required_subgroup_sizes.empty() ? ClVariant::Vec : ClVariant::VecSg;
  const ClVariant variant = a.rt.variant(OpKind::SwiGlu, preferred);
  if (few && variant == ClVariant::Rows && quant) return run_rows(s);
  if (few && (variant == ClVariant::Vec || variant == ClVariant::VecSg))
    return run_vec(s, variant == ClVariant::VecSg);
  run_split(s);
}

}  // namespace bluecl::clops
