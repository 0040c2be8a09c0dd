// The CPU backend: the reference every OpenCL kernel is tested against, and the fallback for any op a
// device declines. Runs every op; weights are used in place from host memory (no copy).
#pragma once

#include "backend/backend.h"
#include "backend/cpu/thread_pool.h"

#include <memory>

namespace bluecl {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads = 0);
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

  // The host address behind a ref made by this backend.
  static void* host_ptr(TensorRef r);

 private:
  std::unique_ptr<cpu::ThreadPool> pool_;
  struct Weights;
  std::unique_ptr<Weights> weights_;
};

}  // namespace bluecl
