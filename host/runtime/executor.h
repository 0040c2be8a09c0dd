// Runs a scheduled graph over its backends. Built once per graph (per chunk shape), then replayed: the
// per-run work is the launches themselves (no allocation, no lookups). Each device gets one arena for
// the intermediates it produces, planned by liveness; inputs get their own buffers on every device that
// reads them; state tensors (KV caches) are bound by the owner.
#pragma once

#include "backend/backend.h"
#include "graph/graph.h"
#include "host/runtime/scheduler.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bluecl {

class Executor {
 public:
  // Reports the preparation of weights and kernels: (done, total).
  using Progress = std::function<void(size_t done, size_t total)>;

  // Host bytes a device has its own copy of, that no CPU node of this graph reads (see
  // Devices::release_host_pages).
  using Release = std::function<void(const void* data, size_t bytes)>;

  // g must already be scheduled (Transfer nodes inserted); the executor keeps a reference to g.
  // Weights reach every device that uses them here (`progress` counts them); each weight that only
  // devices read goes to `release` as soon as it is uploaded, so the file's pages and the device's copy
  // are not both resident while the rest loads.
  Executor(const Graph& g, const Plan& plan, std::vector<Backend*> backends,
           const Progress& progress = nullptr, const Release& release = nullptr);

  // Compiles every kernel the graph will launch (after states are bound), so the first run does no
  // one-time work. Returns the nodes whose preparation failed (a kernel that does not build), with why.
  struct Failure {
    int node;
    std::string what;
  };
  std::vector<Failure> prepare(const Progress& progress = nullptr);

  // Binds a state tensor to memory that lives on `device` (the device its nodes were placed on).
  void bind_state(Tensor t, TensorRef where);
  // The device where a state tensor must live (-1 if no node touches it).
  int state_device(Tensor t) const;

  // Copies host data into an input on every device that reads it.
  void set_input(Tensor t, const void* data, size_t bytes);
  // A failed run, read or set_input (an OpenCL call that fails) throws after waiting for what was enqueued
  // before (drain), so nothing of the step is still running when the caller sees the error; the executor
  // stays usable, and a later run recomputes every node.
  void run(const Step& step);
  // Reads an output (any tensor marked as output) to host memory; waits for the work it depends on.
  void read(Tensor t, void* dst, size_t bytes) const;
  void sync();

  size_t arena_bytes(int device) const { return arena_bytes_.at(device); }
  const Plan& plan() const { return plan_; }

 private:
  TensorRef ref(int device, TensorId t) const;
  void resolve();  // fills launches_
  void run_profiled(const Step& step);
  void transfer(const Node& n, int to);
  void drain() const noexcept;  // waits for every backend, ignoring (logging) their errors

  const Graph& g_;
  Plan plan_;
  std::vector<Backend*> backends_;
  std::vector<std::unique_ptr<DeviceBuffer>> owned_;
  std::vector<size_t> arena_bytes_;
  std::vector<std::vector<TensorRef>> refs_;     // [device][tensor]: where the tensor's bytes live there
  std::vector<int> home_;                        // [tensor]: device of the producer (intermediates)
  std::vector<std::vector<int>> input_devices_;  // [tensor]: devices an input is copied to
  struct Launch {
    int device;
    std::vector<TensorRef> src;
    TensorRef dst;
  };
  std::vector<Launch> launches_;
  std::vector<uint8_t> staging_;
};

}  // namespace bluecl
