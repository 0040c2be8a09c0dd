#include "graph/graph.h"

#include "graph/base/error.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

namespace bluecl {

Shape::Shape(std::initializer_list<int64_t> d) {
  BLUECL_ASSERT(d.size() <= kMaxDims, "rank {} > {}", d.size(), kMaxDims);
  for (int64_t v : d) dims[rank++] = v;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= dims[i];
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) s += fmt::format("{}{}", i ? ", " : "", dims[i]);
  return s + "]";
}

ConcatGeometry concat_geometry(const Shape& a, const Shape& b, int axis) {
  ConcatGeometry c;
  for (int i = 0; i < axis; ++i) c.outer *= a[i];
  for (int i = axis; i < a.rank; ++i) {
    c.a_in *= a[i];
    c.b_in *= b[i];
  }
  return c;
}

double nmse(const float* a, const float* ref, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  if (den == 0) return num == 0 ? 0 : INFINITY;
  return num / den;
}

namespace {
constexpr OpInfo kOpInfos[] = {
#define BLUECL_OP(Kind, stem, attr, min_inputs, max_inputs, work, ...) \
  {OpKind::Kind, #stem, min_inputs, max_inputs, WorkRule::work},
#define BLUECL_PSEUDO_OP BLUECL_OP
#include "graph/ops.def"
};
// Generated from the same list as OpKind, so a row cannot be missing or out of order; checked anyway.
constexpr bool op_infos_in_order() {
  for (int i = 0; i < kNumOps; ++i)
    if (static_cast<int>(kOpInfos[i].kind) != i || kOpInfos[i].name.empty() || kOpInfos[i].min_inputs < 1 ||
        kOpInfos[i].max_inputs < kOpInfos[i].min_inputs || kOpInfos[i].max_inputs > 4)
      return false;
  return true;
}
static_assert(std::size(kOpInfos) == kNumOps, "one info row per op");
static_assert(op_infos_in_order(), "info rows in OpKind order, each with a name and 1-4 inputs");
}  // namespace

const OpInfo& op_info(OpKind k) {
  auto i = static_cast<size_t>(k);
  BLUECL_ASSERT(i < kNumOps, "bad op {}", i);
  return kOpInfos[i];
}

Tensor Graph::add_tensor(TensorInfo info) {
  tensors_.push_back(std::move(info));
  return Tensor{static_cast<TensorId>(tensors_.size() - 1)};
}

Tensor Graph::input(std::string name, DType dtype, Shape shape) {
  return add_tensor({.name = std::move(name), .dtype = dtype, .shape = shape, .kind = TensorKind::Input});
}

Tensor Graph::weight(std::string name, DType dtype, Shape shape, const void* data) {
  BLUECL_ASSERT(data != nullptr, "weight {} has no data", name);
  return add_tensor(
      {.name = std::move(name), .dtype = dtype, .shape = shape, .kind = TensorKind::Weight, .data = data});
}

Tensor Graph::state(std::string name, DType dtype, Shape shape) {
  return add_tensor({.name = std::move(name), .dtype = dtype, .shape = shape, .kind = TensorKind::State});
}

TensorId Graph::base_of(TensorId t) const {
  const TensorInfo& i = info(t);
  return i.kind == TensorKind::View ? i.view_of : t;
}

Tensor Graph::reshape(Tensor x, Shape shape, std::string name) {
  const TensorInfo& xi = info(x);
  BLUECL_ASSERT(shape.numel() == xi.shape.numel(), "reshape {} -> {}", xi.shape.str(), shape.str());
  BLUECL_ASSERT(!dtype_info(xi.dtype).quantised || shape.last() % kQK == 0, "reshape splits quant blocks");
  TensorInfo v{.name = name.empty() ? xi.name + ".view" : std::move(name),
               .dtype = xi.dtype,
               .shape = shape,
               .kind = TensorKind::View,
               .view_of = base_of(x.id),
               .view_offset = xi.kind == TensorKind::View ? xi.view_offset : 0};
  return add_tensor(std::move(v));
}

Tensor Graph::rows(Tensor x, int64_t first, int64_t count, std::string name) {
  const TensorInfo& xi = info(x);
  BLUECL_ASSERT(first >= 0 && count > 0 && first + count <= xi.shape.rows(), "rows {}+{} of {}", first, count,
                xi.shape.str());
  Shape s{count, xi.shape.last()};
  TensorInfo v{.name = name.empty() ? xi.name + ".rows" : std::move(name),
               .dtype = xi.dtype,
               .shape = s,
               .kind = TensorKind::View,
               .view_of = base_of(x.id),
               .view_offset = (xi.kind == TensorKind::View ? xi.view_offset : 0) + first * xi.row_bytes()};
  return add_tensor(std::move(v));
}

Tensor Graph::add_node(OpKind kind, OpAttr attr, std::initializer_list<Tensor> src, DType dtype, Shape shape,
                       std::string name) {
  Node n{.kind = kind, .attr = attr};
  for (Tensor t : src) {
    if (!t) continue;
    BLUECL_ASSERT(t.id >= 0 && t.id < static_cast<TensorId>(tensors_.size()), "bad tensor id {}", t.id);
    n.src[n.n_src++] = t.id;
  }
  const OpInfo& oi = op_info(kind);
  BLUECL_ASSERT(n.n_src >= oi.min_inputs && n.n_src <= oi.max_inputs, "{}: {} inputs", oi.name, n.n_src);
  const auto index = static_cast<int32_t>(nodes_.size());
  if (name.empty()) name = fmt::format("{}-{}", oi.name, index);
  Tensor out = add_tensor({.name = std::move(name),
                           .dtype = dtype,
                           .shape = shape,
                           .kind = TensorKind::Intermediate,
                           .producer = index});
  n.out = out.id;
  nodes_.push_back(n);
  return out;
}

namespace {
// b broadcasts over a when its shape (leading 1s dropped) is a suffix of a's: one row over every row, a
// [729, C] position table over [B, 729, C], or the same shape.
bool broadcastable(const Shape& a, const Shape& b) {
  int lead = 0;
  while (lead < b.rank - 1 && b[lead] == 1) ++lead;
  const int rank = b.rank - lead;
  if (rank > a.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (b[lead + i] != a[a.rank - rank + i]) return false;
  return true;
}
}  // namespace

Tensor Graph::matmul(Tensor x, Tensor w, Tensor bias, std::string name, MatMulAttr attr) {
  const Shape& xs = shape(x);
  const Shape& ws = shape(w);
  BLUECL_ASSERT(info(x).dtype == DType::F32 && ws.rank == 2 && xs.last() == ws[1], "matmul {} x {}^T",
                xs.str(), ws.str());
  BLUECL_ASSERT(!bias || shape(bias).numel() == ws[0], "matmul bias {}", shape(bias).str());
  Shape ys = xs;
  ys[ys.rank - 1] = ws[0];
  return add_node(OpKind::MatMul, attr, {x, w, bias}, DType::F32, ys, std::move(name));
}

Tensor Graph::add(Tensor a, Tensor b, std::string name) {
  BLUECL_ASSERT(broadcastable(shape(a), shape(b)), "add {} + {}", shape(a).str(), shape(b).str());
  return add_node(OpKind::Add, AddAttr{}, {a, b}, DType::F32, shape(a), std::move(name));
}

Tensor Graph::mul(Tensor a, Tensor b, std::string name) {
  BLUECL_ASSERT(broadcastable(shape(a), shape(b)), "mul {} * {}", shape(a).str(), shape(b).str());
  return add_node(OpKind::Mul, MulAttr{}, {a, b}, DType::F32, shape(a), std::move(name));
}

Tensor Graph::scale(Tensor x, float s, std::string name) {
  return add_node(OpKind::Scale, ScaleAttr{s}, {x}, DType::F32, shape(x), std::move(name));
}

Tensor Graph::rms_norm(Tensor x, Tensor w, float eps, std::string name) {
  BLUECL_ASSERT(!w || shape(w).numel() == shape(x).last(), "rms_norm weight {}", shape(w).str());
  return add_node(OpKind::RmsNorm, RmsNormAttr{eps}, {x, w}, DType::F32, shape(x), std::move(name));
}

Tensor Graph::layer_norm(Tensor x, Tensor w, Tensor b, float eps, std::string name) {
  BLUECL_ASSERT(!w || shape(w).numel() == shape(x).last(), "layer_norm weight {}", shape(w).str());
  BLUECL_ASSERT(!b || w, "layer_norm bias without weight");
  BLUECL_ASSERT(!b || shape(b).numel() == shape(x).last(), "layer_norm bias {}", shape(b).str());
  return add_node(OpKind::LayerNorm, LayerNormAttr{eps}, {x, w, b}, DType::F32, shape(x), std::move(name));
}

Tensor Graph::rope(Tensor x, RopeAttr attr, std::string name) {
  const Shape& s = shape(x);
  BLUECL_ASSERT(s.rank == 3 && attr.n_rot > 0 && attr.n_rot % 2 == 0 && attr.n_rot <= s[2],
                "rope {} n_rot {}", s.str(), attr.n_rot);
  return add_node(OpKind::Rope, attr, {x}, DType::F32, s, std::move(name));
}

Tensor Graph::softmax(Tensor x, float scale, std::string name) {
  return add_node(OpKind::SoftMax, SoftMaxAttr{scale}, {x}, DType::F32, shape(x), std::move(name));
}

Tensor Graph::attention(Tensor q, Tensor k, Tensor v, AttentionAttr attr, std::string name) {
  const Shape &qs = shape(q), &ks = shape(k), &vs = shape(v);
  BLUECL_ASSERT(qs.rank == 4 && ks.rank == 4 && ks == vs, "attention q {} k {} v {}", qs.str(), ks.str(),
                vs.str());
  BLUECL_ASSERT(qs[3] == ks[3] && qs[2] % ks[2] == 0, "attention heads: q {} k {}", qs.str(), ks.str());
  BLUECL_ASSERT(attr.kv_cache ? ks[0] == 1 && qs[0] == 1 : ks[0] == qs[0], "attention batch: q {} k {}",
                qs.str(), ks.str());
  BLUECL_ASSERT(info(k).dtype == info(v).dtype, "attention k/v dtypes differ");
  return add_node(OpKind::Attention, attr, {q, k, v}, DType::F32, Shape{qs[0], qs[1], qs[2] * qs[3]},
                  std::move(name));
}

Tensor Graph::silu_mul(Tensor gate, Tensor up, std::string name) {
  BLUECL_ASSERT(shape(gate) == shape(up), "silu_mul {} {}", shape(gate).str(), shape(up).str());
  return add_node(OpKind::SiluMul, SiluMulAttr{}, {gate, up}, DType::F32, shape(gate), std::move(name));
}

Tensor Graph::swiglu(Tensor x, Tensor w_gate, Tensor w_up, std::string name) {
  const Shape &xs = shape(x), &gs = shape(w_gate);
  BLUECL_ASSERT(info(x).dtype == DType::F32 && gs.rank == 2 && xs.last() == gs[1] && shape(w_up) == gs,
                "swiglu {} x {}^T, {}^T", xs.str(), gs.str(), shape(w_up).str());
  BLUECL_ASSERT(info(w_gate).dtype == info(w_up).dtype, "swiglu weights of types {} and {}",
                dtype_name(info(w_gate).dtype), dtype_name(info(w_up).dtype));
  Shape ys = xs;
  ys[ys.rank - 1] = gs[0];
  return add_node(OpKind::SwiGlu, SwiGluAttr{}, {x, w_gate, w_up}, DType::F32, ys, std::move(name));
}

Tensor Graph::gelu(Tensor x, GeluMode mode, std::string name) {
  return add_node(OpKind::Gelu, GeluAttr{mode}, {x}, DType::F32, shape(x), std::move(name));
}

Tensor Graph::get_rows(Tensor table, Tensor ids, std::string name) {
  const Shape& ts = shape(table);
  BLUECL_ASSERT(ts.rank == 2 && info(ids).dtype == DType::I32 && shape(ids).rank == 1, "get_rows {} [{}]",
                ts.str(), shape(ids).str());
  return add_node(OpKind::GetRows, GetRowsAttr{}, {table, ids}, DType::F32, Shape{shape(ids)[0], ts[1]},
                  std::move(name));
}

Tensor Graph::copy(Tensor x, DType dtype, std::string name) {
  BLUECL_ASSERT(dtype != DType::I32 && info(x).dtype != DType::I32, "copy of i32");
  BLUECL_ASSERT(!dtype_info(dtype).quantised || shape(x).last() % kQK == 0, "copy to {}: row of {}",
                dtype_name(dtype), shape(x).last());
  return add_node(OpKind::Copy, CopyAttr{}, {x}, dtype, shape(x), std::move(name));
}

Tensor Graph::kv_write(Tensor src, Tensor cache, std::string name) {
  const Shape &ss = shape(src), &cs = shape(cache);
  BLUECL_ASSERT(ss.rank == 3 && cs.rank == 3 && ss[1] == cs[1] && ss[2] == cs[2] && ss[0] <= cs[0],
                "kv_write {} into {}", ss.str(), cs.str());
  BLUECL_ASSERT(info(cache).kind == TensorKind::State, "kv_write into a non-state tensor");
  Tensor out = add_node(OpKind::KvWrite, KvWriteAttr{}, {src, cache}, info(cache).dtype, cs, std::move(name));
  // The output is the cache itself, so later nodes read what this one wrote.
  TensorInfo& oi = tensors_[out.id];
  oi.kind = TensorKind::View;
  oi.view_of = cache.id;
  return out;
}

Tensor Graph::im2col(Tensor image, int32_t patch, std::string name) {
  const Shape& s = shape(image);
  BLUECL_ASSERT(s.rank == 4 && patch > 0 && s[2] >= patch && s[3] >= patch, "im2col {} patch {}", s.str(),
                patch);
  const int64_t oh = s[2] / patch, ow = s[3] / patch;
  return add_node(OpKind::Im2Col, Im2ColAttr{patch}, {image}, DType::F32,
                  Shape{s[0], oh * ow, s[1] * patch * patch}, std::move(name));
}

Tensor Graph::concat(Tensor a, Tensor b, int32_t axis, std::string name) {
  const Shape &as = shape(a), &bs = shape(b);
  BLUECL_ASSERT(as.rank == bs.rank && axis >= 0 && axis < as.rank, "concat {} {} axis {}", as.str(), bs.str(),
                axis);
  Shape ys = as;
  for (int i = 0; i < as.rank; ++i) {
    if (i == axis)
      ys[i] = as[i] + bs[i];
    else
      BLUECL_ASSERT(as[i] == bs[i], "concat {} {} axis {}", as.str(), bs.str(), axis);
  }
  return add_node(OpKind::Concat, ConcatAttr{axis}, {a, b}, DType::F32, ys, std::move(name));
}

Tensor Graph::downsample(Tensor x, bool column_major, std::string name) {
  const Shape& s = shape(x);
  BLUECL_ASSERT(s.rank == 4 && s[1] == s[2], "downsample {}: want [B, g, g, C]", s.str());
  const int64_t h = (s[1] + 1) / 2;
  return add_node(OpKind::Downsample, DownsampleAttr{column_major}, {x}, DType::F32,
                  Shape{s[0], h * h, 4 * s[3]}, std::move(name));
}

Tensor Graph::transfer(Tensor x, std::string name) {
  return add_node(OpKind::Transfer, TransferAttr{}, {x}, info(x).dtype, shape(x), std::move(name));
}

void Graph::mark_output(Tensor t) {
  tensors_.at(base_of(t.id)).output = tensors_.at(t.id).output = true;
}

Tensor Graph::find(std::string_view name) const {
  for (size_t i = 0; i < tensors_.size(); ++i)
    if (tensors_[i].name == name) return Tensor{static_cast<TensorId>(i)};
  return {};
}

Tensor Graph::insert_transfer(int at, int slot, std::string name) {
  BLUECL_ASSERT(at >= 0 && at < static_cast<int>(nodes_.size()), "insert_transfer at {}", at);
  const TensorId src = nodes_[at].src[slot];
  const TensorInfo& si = tensors_[src];
  Tensor out = add_tensor({.name = std::move(name),
                           .dtype = si.dtype,
                           .shape = si.shape,
                           .kind = TensorKind::Intermediate,
                           .producer = at});
  for (TensorInfo& t : tensors_)
    if (t.producer >= at && t.kind != TensorKind::Input && &t != &tensors_[out.id]) ++t.producer;
  Node n{.kind = OpKind::Transfer, .attr = TransferAttr{}};
  n.src[0] = src;
  n.n_src = 1;
  n.out = out.id;
  nodes_.insert(nodes_.begin() + at, n);
  nodes_[at + 1].src[slot] = out.id;
  return out;
}

}  // namespace bluecl
