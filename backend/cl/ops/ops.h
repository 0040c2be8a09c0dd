// The OpenCL launcher of each op, one file per op stem (backend/cl/ops/<stem>.cpp, kernels in
// cl_kernels/<stem>.cl). supports_<op> adds the op's own limits (dtypes, shapes, device features) to the
// backend's common checks; <op>() enqueues the kernels (it does not wait).
#pragma once

#include "backend/backend.h"
#include "backend/cl/cl_runtime.h"
#include "graph/base/error.h"
#include "graph/graph.h"

#include <fmt/format.h>

#include <array>

namespace bluecl::clops {

// A tensor on the device: the buffer and the byte offset of its first element.
struct Mem {
  const cl::Buffer* buf = nullptr;
  cl_ulong off = 0;
};

struct OpArgs {
  ClRuntime& rt;
  const Graph& g;
  const Node& n;
  const Step& step;
  std::array<Mem, 4> src{};
  Mem dst;

  // --- Split weights (ClBackend) ---
  // When set, in(i) describes this tensor instead of the graph's: ClBackend runs an op once per part of
  // a weight split across buffers (one larger than the device's largest allocation), each part described
  // as a smaller weight of its own. Launchers read their inputs' shapes and dtypes through in().
  std::array<const TensorInfo*, 4> src_info{};
  // ---

  const TensorInfo& in(int i) const { return src_info[i] ? *src_info[i] : g.info(n.src[i]); }
  const TensorInfo& out() const { return g.info(n.out); }
  bool has(int i) const { return i < n.n_src; }
  // Input i, or the output as a stand-in for an absent optional input (the kernel is told it is absent).
  Mem opt(int i) const { return has(i) ? src[i] : dst; }
};

// Converts `rows` rows of n elements from st to dt with copy.cl (copy and kv_write).
void convert_rows(const OpArgs& a, DType st, Mem src, DType dt, Mem dst, int64_t rows, int64_t n);

// One launcher per op of graph/ops.def (backend/cl/ops/<stem>.cpp): an op the backend cannot run on a
// device is declined by its supports_<stem>, with the reason.
#define BLUECL_OP(Kind, stem, ...)                                             \
  Support supports_##stem(const ClRuntime& rt, const Graph& g, const Node& n); \
  void stem(const OpArgs& a);
#include "graph/ops.def"

}  // namespace bluecl::clops
