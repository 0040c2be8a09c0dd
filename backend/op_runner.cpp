#include "backend/op_runner.h"

#include "graph/base/error.h"
#include "graph/base/random_fill.h"

#include <cmath>
#include <cstring>
#include <random>

namespace bluecl {

namespace {
constexpr uint8_t kGuardByte = 0xA5;
constexpr size_t kGuardBytes = 256;
}  // namespace

std::vector<float> OpBuilder::floats(size_t n, float lo, float hi) {
  return random_floats(n, seed_++, lo, hi);
}

Tensor OpBuilder::input(const std::string& name, Shape shape, float lo, float hi) {
  Tensor t = g.input(name, DType::F32, shape);
  const std::vector<float> v = floats(shape.numel(), lo, hi);
  auto& d = data_[t.id];
  d.resize(v.size() * 4);
  std::memcpy(d.data(), v.data(), d.size());
  return t;
}

Tensor OpBuilder::ids(const std::string& name, int64_t n, int32_t n_rows) {
  Tensor t = g.input(name, DType::I32, Shape{n});
  std::mt19937_64 rng(seed_++);
  std::uniform_int_distribution<int32_t> dist(0, n_rows - 1);
  auto& d = data_[t.id];
  d.resize(n * 4);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = dist(rng);
    std::memcpy(d.data() + i * 4, &id, 4);
  }
  return t;
}

Tensor OpBuilder::weight(const std::string& name, DType dtype, Shape shape, float lo, float hi) {
  const std::vector<float> v = floats(shape.numel(), lo, hi);
  std::vector<uint8_t> bytes(dtype_bytes(dtype, shape.numel()));
  const int64_t row = shape.last(), rows = shape.numel() / row;
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(dtype, v.data() + r * row, bytes.data() + dtype_bytes(dtype, r * row), row);
  // The graph keeps a pointer to the weight's bytes; tensor ids are known only after g.weight(), so the
  // bytes move into place under the new id (vectors keep their heap storage when moved).
  Tensor t = g.weight(name, dtype, shape, bytes.data());
  data_[t.id] = std::move(bytes);
  return t;
}

Tensor OpBuilder::input_as(const std::string& name, DType dtype, Shape shape) {
  return fill_random(g.input(name, dtype, shape));
}

Tensor OpBuilder::state(const std::string& name, DType dtype, Shape shape) {
  return fill_random(g.state(name, dtype, shape));
}

Tensor OpBuilder::fill_random(Tensor t) {
  const DType dtype = g.info(t).dtype;
  const Shape shape = g.info(t).shape;
  const std::vector<float> v = floats(shape.numel(), -1.0f, 1.0f);
  auto& d = data_[t.id];
  d.resize(dtype_bytes(dtype, shape.numel()));
  const int64_t row = shape.last(), rows = shape.numel() / row;
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(dtype, v.data() + r * row, d.data() + dtype_bytes(dtype, r * row), row);
  return t;
}

PreparedOp::PreparedOp(Backend& be, const OpBuilder& b, const Step& step) : be_(be), b_(b), step_(step) {
  const Graph& g = b.g;
  BLUECL_ASSERT(!g.nodes().empty(), "op case without a node");
  node_ = g.nodes().back();
  const TensorInfo& out = g.info(node_.out);
  // kv_write's output is the cache: the cache gets the guards and is the result.
  result_tensor_ = g.base_of(node_.out);
  guard_ = std::max(kGuardBytes, be.alignment());
  refs_.assign(g.tensors().size(), TensorRef{});

  const TensorInfo& res = g.info(result_tensor_);
  out_buf_ = be.alloc(2 * guard_ + res.bytes(), "op output");
  be.fill(TensorRef{out_buf_.get(), 0}, kGuardByte, 2 * guard_ + res.bytes());
  refs_[result_tensor_] = TensorRef{out_buf_.get(), guard_};
  if (b.has_bytes(result_tensor_))
    be.write(refs_[result_tensor_], b.bytes(result_tensor_).data(), res.bytes());

  for (size_t id = 0; id < g.tensors().size(); ++id) {
    const TensorInfo& t = g.info(static_cast<TensorId>(id));
    if (static_cast<TensorId>(id) == result_tensor_) continue;
    if (t.kind == TensorKind::Weight) {
      refs_[id] = be.weight(t);
    } else if (t.kind == TensorKind::Input || t.kind == TensorKind::State) {
      auto buf = be.alloc(t.bytes(), t.name);
      refs_[id] = TensorRef{buf.get(), 0};
      be.write(refs_[id], b.bytes(static_cast<TensorId>(id)).data(), t.bytes());
      bufs_.push_back(std::move(buf));
    }
  }
  for (size_t id = 0; id < g.tensors().size(); ++id) {
    const TensorInfo& t = g.info(static_cast<TensorId>(id));
    if (t.kind == TensorKind::View && static_cast<TensorId>(id) != node_.out) {
      const TensorRef base = refs_[t.view_of];
      BLUECL_ASSERT(base.buffer, "view {} of a tensor without memory", t.name);
      refs_[id] = TensorRef{base.buffer, base.offset + t.view_offset};
    }
  }
  (void)out;
}

PreparedOp::~PreparedOp() {
  for (const TensorInfo& t : b_.g.tensors())
    if (t.kind == TensorKind::Weight) be_.release_weight(t.data);
}

void PreparedOp::run() {
  std::vector<TensorRef> src(node_.n_src);
  for (int i = 0; i < node_.n_src; ++i) src[i] = refs_[node_.src[i]];
  be_.run(b_.g, node_, src, refs_[result_tensor_], step_);
}

OpRun PreparedOp::result() {
  const TensorInfo& res = b_.g.info(result_tensor_);
  std::vector<uint8_t> all(2 * guard_ + res.bytes());
  be_.read(TensorRef{out_buf_.get(), 0}, all.data(), all.size());
  OpRun r;
  for (size_t i = 0; i < guard_; ++i)
    if (all[i] != kGuardByte || all[guard_ + res.bytes() + i] != kGuardByte) r.guards_intact = false;
  const int64_t n = res.shape.numel(), row = res.shape.last();
  r.out.resize(n);
  for (int64_t i = 0; i < n / row; ++i)
    dequantize_row(res.dtype, all.data() + guard_ + dtype_bytes(res.dtype, i * row), r.out.data() + i * row,
                   row);
  for (float v : r.out)
    if (!std::isfinite(v)) ++r.non_finite;
  return r;
}

OpRun run_op(Backend& be, const OpBuilder& b, const Step& step) {
  PreparedOp p(be, b, step);
  p.run();
  be.sync();
  return p.result();
}

}  // namespace bluecl
