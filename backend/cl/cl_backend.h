// The OpenCL backend: every op of the graph as a kernel in cl_kernels/, with portable variants that
// need neither fp16 arithmetic nor subgroups (PoCL), and faster ones chosen from the device's features.
// Quantised weights are re-laid-out once at upload (see ClWeightLayout).
#pragma once

#include "backend/backend.h"
#include "backend/cl/cl_device.h"

#include <memory>

namespace bluecl {

class ClRuntime;

struct ClBackendOptions {
  bool profiling = false;  // enable event profiling on the queue (benchmarks)
  // Device memory this backend may use, 0: no limit but the device's. BLUECL_DEVICE_MEMORY_LIMIT (bytes)
  // sets it too: a way to test what happens when a device runs out.
  size_t memory_limit = 0;
  // Ops to decline, for testing fallback: comma-separated op names ("rope,softmax"); BLUECL_DECLINE adds
  // to this.
  std::string decline;
};

class ClBackend final : public Backend {
 public:
  ClBackend(const ClDeviceInfo& dev, const ClBackendOptions& opts = {});
  ~ClBackend() override;

  DeviceKind kind() const override { return DeviceKind::OpenCl; }
  std::string name() const override;
  Support supports(const Graph& g, const Node& n) const override;
  std::unique_ptr<DeviceBuffer> alloc(size_t bytes, std::string_view what) override;
  size_t alignment() const override;
  void write(TensorRef dst, const void* src, size_t bytes) override;
  void read(TensorRef src, void* dst, size_t bytes) override;
  void fill(TensorRef dst, uint8_t byte, size_t bytes) override;
  TensorRef weight(const TensorInfo& w) override;
  void release_weight(const void* host_data) override;
  size_t weight_bytes() const override;
  void run(const Graph& g, const Node& n, std::span<const TensorRef> src, TensorRef dst,
           const Step& step) override;
  void sync() override;
  void prepare(const Graph& g, const Node& n, std::span<const TensorRef> src, TensorRef dst) override;

  const DeviceFeatures& features() const;
  // From now on this op runs elsewhere (its kernel failed to build here, for instance).
  void decline(OpKind kind, std::string reason);
  bool has_weight(const void* host_data) const;
  // Device memory held by buffers of this backend now, and the most held at once so far.
  size_t allocated_bytes() const;
  size_t peak_allocated_bytes() const;
  ClRuntime& runtime() { return *rt_; }

 private:
  std::unique_ptr<ClRuntime> rt_;
  int index_;
  std::vector<std::string> declined_;  // per OpKind: why it is declined ("" if it is not)
  size_t memory_limit_ = 0;
  struct Weights;
  std::unique_ptr<Weights> weights_;
  std::shared_ptr<struct ClMemoryUsage> usage_;  // shared with every buffer, which may outlive the backend
};

}  // namespace bluecl
