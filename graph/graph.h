// The graph: tensors and the nodes that produce them, recorded by a builder. Building runs nothing.
//
//   Graph g;
//   Tensor x = g.input("tokens_embd", DType::F32, {n_tok, n_embd});
//   Tensor h = g.rms_norm(x, w_norm, eps, "attn_norm-0");   // [n_tok, n_embd]
//
// Every tensor has a stable name ("attn_norm-0") so tests and tools can find, dump and diff it.
#pragma once

#include "graph/dtype.h"
#include "graph/op.h"

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace bluecl {

inline constexpr int kMaxDims = 4;

// Dimensions, outermost first. Unused trailing slots are 0.
struct Shape {
  std::array<int64_t, kMaxDims> dims{};
  int rank = 0;

  Shape() = default;
  Shape(std::initializer_list<int64_t> d);
  int64_t operator[](int i) const { return dims[i]; }
  int64_t& operator[](int i) { return dims[i]; }
  int64_t last() const { return dims[rank - 1]; }
  int64_t numel() const;
  int64_t rows() const { return rank == 0 ? 0 : numel() / last(); }  // product of all but the last dim
  bool operator==(const Shape& o) const = default;
  std::string str() const;  // "[2, 3, 4]"
};

enum class TensorKind : uint8_t {
  Input,         // written by the caller before each run
  Weight,        // constant bytes owned by the model (host memory, usually the mmapped file)
  State,         // persistent device buffer owned outside the graph (KV cache)
  Intermediate,  // produced by a node; memory from the planner
  View,          // a reshape or a row range of another tensor; no memory of its own
};

using TensorId = int32_t;
inline constexpr TensorId kNoTensor = -1;

struct Tensor {
  TensorId id = kNoTensor;
  explicit operator bool() const { return id != kNoTensor; }
  bool operator==(const Tensor&) const = default;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  TensorKind kind = TensorKind::Intermediate;
  int32_t producer = -1;         // node index, for Intermediate
  TensorId view_of = kNoTensor;  // for View: the base tensor (never itself a view)
  size_t view_offset = 0;        // bytes into the base
  const void* data = nullptr;    // for Weight: host bytes
  bool output = false;           // read by the caller after a run (kept alive to the end)

  size_t bytes() const { return dtype_bytes(dtype, shape.numel()); }
  size_t row_bytes() const { return dtype_bytes(dtype, shape.last()); }
};

struct Node {
  OpKind kind;
  OpAttr attr;
  std::array<TensorId, 4> src{kNoTensor, kNoTensor, kNoTensor, kNoTensor};
  int n_src = 0;
  TensorId out = kNoTensor;

  TensorId input(int i) const { return i < n_src ? src[i] : kNoTensor; }
  template <typename A>
  const A& a() const {
    return std::get<A>(attr);
  }
};

class Graph {
 public:
  // --- leaves ---
  Tensor input(std::string name, DType dtype, Shape shape);
  Tensor weight(std::string name, DType dtype, Shape shape, const void* data);
  Tensor state(std::string name, DType dtype, Shape shape);

  // --- views (no node, no copy) ---
  Tensor reshape(Tensor x, Shape shape, std::string name = {});
  Tensor rows(Tensor x, int64_t first, int64_t count, std::string name = {});  // over x.shape.rows()

  // --- ops: one builder per row of graph/ops.def, with the parameters listed there (defined in
  // graph.cpp); an empty name gets "<op>-<node index>" ---
  // clang-format off
#define BLUECL_OP(Kind, stem, attr, min_inputs, max_inputs, work, params) Tensor stem params;
#define BLUECL_PSEUDO_OP BLUECL_OP
#include "graph/ops.def"
  // clang-format on

  // Marks a tensor as read after the run (its memory is not reused).
  void mark_output(Tensor t);

  const TensorInfo& info(Tensor t) const {
    return tensors_.at(t.id);
  }
  const TensorInfo& info(TensorId id) const {
    return tensors_.at(id);
  }
  TensorInfo& info_mut(TensorId id) {
    return tensors_.at(id);
  }
  const Shape& shape(Tensor t) const {
    return info(t).shape;
  }
  const std::vector<TensorInfo>& tensors() const {
    return tensors_;
  }
  const std::vector<Node>& nodes() const {
    return nodes_;
  }
  Node& nodes_mut(int i) {
    return nodes_.at(i);
  }
  Tensor find(std::string_view name) const;  // kNoTensor if absent

  // The tensor that owns the memory of t: t itself, or the base of a view.
  TensorId base_of(TensorId t) const;

  // Inserts a Transfer of `src` before node `at` and points that node's input `slot` at it.
  // Used by the scheduler; returns the new tensor.
  Tensor insert_transfer(int at, int slot, std::string name);

 private:
  Tensor add_tensor(TensorInfo info);
  Tensor add_node(OpKind kind, OpAttr attr, std::initializer_list<Tensor> src, DType dtype, Shape shape,
                  std::string name);
  std::vector<TensorInfo> tensors_;
  std::vector<Node> nodes_;
};

// Concatenation along `axis` as a 2D problem: `outer` slices of a_in then b_in contiguous elements.
struct ConcatGeometry {
  int64_t outer = 1, a_in = 1, b_in = 1;
};
ConcatGeometry concat_geometry(const Shape& a, const Shape& b, int axis);

// Normalised mean squared error sum((a-b)^2) / sum(b^2), the measure every test and bench uses.
double nmse(const float* a, const float* ref, int64_t n);

}  // namespace bluecl
