// The CPU implementation of each op, one file per op stem (backend/cpu/ops/<stem>.cpp). Each function
// receives host pointers to its inputs and output; shapes and attributes come from the graph. With
// a.fast false each op computes the exact reference; with it true an op may take its fast path.
#pragma once

#include "backend/cpu/thread_pool.h"
#include "graph/graph.h"

#include <algorithm>
#include <array>

namespace bluecl::cpu {

struct OpArgs {
  const Graph& g;
  const Node& n;
  const Step& step;
  ThreadPool& pool;
  bool fast;  // CpuPrecision::Fast: reduced-precision kernels allowed (see cpu_backend.h)
  std::array<const void*, 4> src{};
  void* dst = nullptr;

  const TensorInfo& in(int i) const { return g.info(n.src[i]); }
  const TensorInfo& out() const { return g.info(n.out); }
  bool has(int i) const { return i < n.n_src; }
  const float* f(int i) const { return has(i) ? static_cast<const float*>(src[i]) : nullptr; }
  float* y() const { return static_cast<float*>(dst); }
};

// Below about this many elements of work a parallel region (waking a worker, waiting for it) costs more
// than it saves; a decode step runs hundreds of such small ops.
inline constexpr int64_t kMinParallelElems = 16384;
// A parallel_for grain, in rows of `row_elems` elements, that keeps each chunk above that size.
inline int64_t rows_grain(int64_t row_elems) {
  return std::max<int64_t>(1, kMinParallelElems / std::max<int64_t>(1, row_elems));
}

// Converts `rows` rows of n elements from type st to type dt (used by copy and kv_write); `fast` allows
// the SIMD conversions.
void convert_rows(ThreadPool& pool, DType st, const void* src, DType dt, void* dst, int64_t rows, int64_t n,
                  bool fast = false);

// One entry point per op of graph/ops.def (backend/cpu/ops/<stem>.cpp); the CPU backend, the reference,
// runs every op.
#define BLUECL_OP(Kind, stem, ...) void stem(const OpArgs& a);
#include "graph/ops.def"

// attention()'s two paths (attention.cpp, attention_fast.cpp).
void attention_reference(const OpArgs& a);
void attention_fast(const OpArgs& a);

}  // namespace bluecl::cpu
