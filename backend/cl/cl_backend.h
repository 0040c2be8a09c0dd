// The OpenCL backend: every op of the graph as a kernel in cl_kernels/, with portable variants that
// need neither fp16 arithmetic nor subgroups (PoCL), and faster ones chosen from the device's features.
// Quantised weights are re-laid-out once at upload (see ClWeightLayout).
#pragma once

#include "backend/backend.h"
#include "backend/cl/cl_device.h"

#include <memory>

namespace bluecl {

class ClRuntime;
class ClBuffer;
class ClSplitWeight;
namespace clops {
struct OpArgs;
}

struct ClBackendOptions {
  bool profiling = false;  // enable event profiling on the queue (benchmarks)
  // Device memory this backend may use, 0: no limit but the device's. BLUECL_DEVICE_MEMORY_LIMIT (bytes)
  // sets it too: a way to test what happens when a device runs out.
  size_t memory_limit = 0;
  // The largest buffer one weight may take, 0: the device's largest allocation. A weight over it is split
  // by rows across buffers (matmul and get_rows run once per part). BLUECL_MAX_ALLOC (bytes) sets it too:
  // a way to test the split on small models.
  size_t max_weight_alloc = 0;
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
  bool has_weight(const void* host_data) const;
  // Device memory held by buffers of this backend now, and the most held at once so far.
  size_t allocated_bytes() const;
  size_t peak_allocated_bytes() const;
  ClRuntime& runtime() { return *rt_; }
  // The rows of each buffer a weight is split into (all of its rows when it fits one buffer; 0 when not
  // even one row fits).
  int64_t rows_per_part(const TensorInfo& w) const;

 private:
  std::unique_ptr<ClBuffer> alloc_buffer(size_t bytes, std::string_view what, cl_mem_flags flags);
  std::unique_ptr<ClBuffer> upload(const TensorInfo& w, int64_t row0, int64_t rows);
  const cl::Buffer& scratch(std::unique_ptr<DeviceBuffer>& s, size_t bytes, std::string_view what);
  void linear_split(clops::OpArgs a, std::span<const TensorRef> src);
  void get_rows_split(clops::OpArgs a, const ClSplitWeight& w);

  std::unique_ptr<ClRuntime> rt_;
  int index_;
  std::vector<std::string> declined_;  // per OpKind: why it is declined ("" if not), fixed at construction
  size_t memory_limit_ = 0;
  size_t weight_alloc_limit_ = 0;  // the largest buffer of one weight (ClBackendOptions::max_weight_alloc)
  struct Weights;
  std::unique_ptr<Weights> weights_;
  std::shared_ptr<struct ClMemoryUsage> usage_;  // shared with every buffer, which may outlive the backend
  std::unique_ptr<DeviceBuffer> scratch_, scratch_ids_;  // split weights: matmul outputs, get_rows ids
};

}  // namespace bluecl
