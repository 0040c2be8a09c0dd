// The interface every device implements. A backend owns device memory, prepares weights once (any
// re-layout happens here), and runs one node at a time on tensors that already live on it. It knows
// nothing of models, files or tokens.
#pragma once

#include "graph/graph.h"

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace bluecl {

// Whether a backend runs a node, and if not, why (recorded in the placement plan).
struct Support {
  bool ok = true;
  std::string reason;
  static Support yes() { return {}; }
  static Support no(std::string why) { return {false, std::move(why)}; }
};

class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
  virtual size_t size() const = 0;
};

// Where a tensor's bytes live on a device: a buffer and a byte offset into it.
struct TensorRef {
  DeviceBuffer* buffer = nullptr;
  size_t offset = 0;
  explicit operator bool() const { return buffer != nullptr; }
};

enum class DeviceKind : uint8_t { Cpu, OpenCl };

class Backend {
 public:
  virtual ~Backend() = default;

  virtual DeviceKind kind() const = 0;
  virtual std::string name() const = 0;  // "cpu", "cl0 (pthread-haswell-AMD EPYC)"

  // Whether run() handles this node on this device (shape, dtype and device features considered).
  virtual Support supports(const Graph& g, const Node& n) const = 0;

  virtual std::unique_ptr<DeviceBuffer> alloc(size_t bytes, std::string_view what) = 0;
  virtual size_t alignment() const = 0;  // offsets handed to run() are multiples of this
  virtual void write(TensorRef dst, const void* src, size_t bytes) = 0;
  virtual void read(TensorRef src, void* dst, size_t bytes) = 0;  // waits for queued work first
  virtual void fill(TensorRef dst, uint8_t byte, size_t bytes) = 0;

  // The device copy of a Weight tensor, prepared (uploaded, re-laid-out) on first use and kept until
  // release_weight. Keyed by the weight's host data pointer, so graphs rebuilt per chunk shape share it;
  // whoever frees those host bytes must release_weight them first on every backend.
  virtual TensorRef weight(const TensorInfo& w) = 0;
  virtual void release_weight(const void* host_data) = 0;
  virtual size_t weight_bytes() const = 0;  // device memory held by prepared weights

  // Runs (or enqueues) node n. src[i] is where input i lives (weights via weight()), dst the output.
  virtual void run(const Graph& g, const Node& n, std::span<const TensorRef> src, TensorRef dst,
                   const Step& step) = 0;
  virtual void sync() = 0;  // waits until everything enqueued has finished
  // Does the one-time work of run() for this node (compiling its kernels) without running it.
  virtual void prepare(const Graph& g, const Node& n, std::span<const TensorRef> src, TensorRef dst) {}
};

}  // namespace bluecl
