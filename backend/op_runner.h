// Single-op graphs with random inputs, run on any backend with guard bytes around the output: the
// machinery behind the op test table (tests/test_ops.cpp), the kernel microbenchmarks (bench/) and the
// OpenCL auto-tuner (host/runtime/tune.cpp).
#pragma once

#include "backend/backend.h"
#include "graph/graph.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bluecl {

// Builds one op on random data. Leaves get their host bytes here; the last node built is the op under
// test and its output (or, for kv_write, the whole cache it writes) is what gets compared.
class OpBuilder {
 public:
  explicit OpBuilder(uint64_t seed) : seed_(seed) {}
  Graph g;

  Tensor input(const std::string& name, Shape shape, float lo = -1.0f, float hi = 1.0f);
  // An input holding random floats stored as `dtype` (GGUF block layout when quantised).
  Tensor input_as(const std::string& name, DType dtype, Shape shape);
  Tensor ids(const std::string& name, int64_t n, int32_t n_rows);  // I32 in [0, n_rows)
  // Random floats in [lo, hi) stored as `dtype` (quantised the way GGUF files are).
  Tensor weight(const std::string& name, DType dtype, Shape shape, float lo = -1.0f, float hi = 1.0f);
  Tensor state(const std::string& name, DType dtype, Shape shape);  // random initial contents

  const std::vector<uint8_t>& bytes(TensorId t) const { return data_.at(t); }
  bool has_bytes(TensorId t) const { return data_.count(t) != 0; }

 private:
  std::vector<float> floats(size_t n, float lo, float hi);
  Tensor fill_random(Tensor t);  // random floats in [-1, 1) stored as t's dtype
  uint64_t seed_;
  std::map<TensorId, std::vector<uint8_t>> data_;
};

// The op's result on one backend, as floats (dequantised if the output is F16/Q8_0/Q4_0).
struct OpRun {
  std::vector<float> out;
  bool guards_intact = true;
  int64_t non_finite = 0;
};

// Everything a case needs on one backend: uploaded leaves and a guarded output buffer. run() may be
// called repeatedly (benchmarks); result() reads back and checks.
class PreparedOp {
 public:
  PreparedOp(Backend& be, const OpBuilder& b, const Step& step);
  ~PreparedOp();  // releases the weights it prepared (their host bytes die with the OpBuilder)
  PreparedOp(const PreparedOp&) = delete;
  PreparedOp& operator=(const PreparedOp&) = delete;
  void run();
  OpRun result();
  const Node& node() const { return node_; }

 private:
  Backend& be_;
  const OpBuilder& b_;
  Step step_;
  Node node_;
  TensorId result_tensor_;
  std::vector<std::unique_ptr<DeviceBuffer>> bufs_;
  std::vector<TensorRef> refs_;  // per tensor id
  std::unique_ptr<DeviceBuffer> out_buf_;
  size_t guard_ = 0;
};

OpRun run_op(Backend& be, const OpBuilder& b, const Step& step);

}  // namespace bluecl
