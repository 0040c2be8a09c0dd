// The CPU backend: the reference every OpenCL kernel is tested against, and the fallback for any op a
// device declines. Runs every op; weights are used in place from host memory (no copy).
//
// Two precisions:
//   Reference: exact. Weights are dequantised to fp32 and multiplied in fp32 (Eigen) or accumulated in
//              double; attention, norms and activations in double. What every OpenCL kernel is tested
//              against.
//   Fast:      for inference. Matmuls with Q4_0/Q8_0 weights quantise each activation row to 8-bit blocks
//              of 32 (llama.cpp's Q8_0 activations) and use integer dot products; F16/F32 weights are
//              multiplied in fp32. Attention, softmax, norms and activations run in fp32 SIMD. Against
//              the golden references (tests/test_llm_golden.cpp, GoldenFast): quantised models meet the
//              "8-bit activations" NMSE (~6e-4, like llama.cpp); F16/F32 models keep fp32 activations
//              and meet the fp32 row with an fp32 KV cache. Weights get a huge-page hint (decode reads
//              them all once per token).
#pragma once

#include "backend/backend.h"
#include "backend/cpu/thread_pool.h"

#include <memory>

namespace bluecl {

enum class CpuPrecision : uint8_t { Reference, Fast };

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads = 0, CpuPrecision precision = CpuPrecision::Fast);
  ~CpuBackend() override;

  DeviceKind kind() const override { return DeviceKind::Cpu; }
  std::string name() const override;
  Support supports(const Graph& g, const Node& n) const override;
  std::unique_ptr<DeviceBuffer> alloc(size_t bytes, std::string_view what) override;
  size_t alignment() const override { return 64; }
  void write(TensorRef dst, const void* src, size_t bytes) override;
  void read(TensorRef src, void* dst, size_t bytes) override;
  void fill(TensorRef dst, uint8_t byte, size_t bytes) override;
  TensorRef weight(const TensorInfo& w) override;
  void release_weight(const void* host_data) override;
  size_t weight_bytes() const override { return 0; }
  void run(const Graph& g, const Node& n, std::span<const TensorRef> src, TensorRef dst,
           const Step& step) override;
  void sync() override {}

  cpu::ThreadPool& pool() { return *pool_; }
  CpuPrecision precision() const { return precision_; }

  // The host address behind a ref made by this backend.
  static void* host_ptr(TensorRef r);

 private:
  std::unique_ptr<cpu::ThreadPool> pool_;
  CpuPrecision precision_;
  struct Weights;
  std::unique_ptr<Weights> weights_;
};

}  // namespace bluecl
