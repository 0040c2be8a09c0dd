// The devices a model runs on: always the CPU backend, plus one OpenCL device unless asked for the CPU
// alone or none is present (then a notice, and everything runs on the CPU).
#pragma once

#include "backend/cl/cl_backend.h"
#include "backend/cpu/cpu_backend.h"
#include "host/runtime/executor.h"
#include "host/runtime/scheduler.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bluecl {

struct DeviceOptions {
  std::string device;   // "" (BLUECL_DEVICE, else the first GPU, else the first OpenCL device), "cpu",
                        // an index, or a name substring
  int n_threads = 0;    // CPU threads; 0: BLUECL_THREADS, else all cores
  std::string pins;     // "pattern=device,..." (see host/runtime/scheduler.h)
  std::string decline;  // ops the OpenCL backend declines ("rope,softmax"), for testing fallback
  // "cost": each op where the cost model (a calibration per device, cached) says it is fastest;
  // "device": the OpenCL device unless it declines the op. Empty: BLUECL_PLACEMENT, else "cost".
  std::string placement;
  bool profiling = false;
  // Fast: 8-bit activations for quantised matmuls, fp32 SIMD elsewhere (inference). Reference: exact
  // (tests that compare against golden fp32 references). See backend/cpu/cpu_backend.h.
  CpuPrecision cpu_precision = CpuPrecision::Fast;
};

class Devices {
 public:
  explicit Devices(const DeviceOptions& opts);

  const std::vector<Backend*>& backends() const { return list_; }  // [cpu, cl?]
  CpuBackend& cpu() { return *cpu_; }
  ClBackend* cl() { return cl_.get(); }
  const ScheduleOptions& schedule_options() const { return sched_; }
  // Frees every backend's copy of these host bytes (a model being unloaded).
  void release_weight(const void* host_data);

  // Drops host pages of weights that only devices read (they have their own copy), so a model is not
  // resident twice. Set by whoever owns the weights' mapping (GgufFile::release_pages ignores memory
  // outside it); unset, nothing is released.
  std::function<void(const void* data, size_t bytes)> release_host_pages;

  // Makes a graph ready to run: schedules g (in place) over the devices, builds its executor (weights
  // reach their devices), lets `bind` bind its states, and compiles its kernels. Never gives up on the
  // OpenCL device's account: a node whose kernel fails to build (or to fit the device) is declined in
  // this graph's plan (Plan::declined; it runs on the CPU, the backend is not changed, so other graphs
  // still try it), and when the device runs out of memory for weights the remaining ones stay in host
  // memory for every later graph too (their ops run on the CPU; Plan::host_weights); either way g is
  // scheduled again from its unscheduled form, with a warning.
  struct Prepared {
    Plan plan;
    std::unique_ptr<Executor> ex;
  };
  struct PrepareCallbacks {
    std::function<void(Executor&)> bind;  // binds state tensors; may be called again after a fallback
    Executor::Progress weights, kernels;
    std::vector<Pin> pins;  // for this graph, ahead of the devices' own
    int state_device = -1;  // where its states should live (see ScheduleOptions::state_device)
  };
  Prepared prepare(Graph& g, const PrepareCallbacks& cb);

 private:
  ScheduleOptions options_for(const PrepareCallbacks& cb, const std::vector<Decline>& declined) const;
  // Builds p.ex and binds its states; false when the device ran out of memory (one level given up).
  bool build_executor(const Graph& g, Prepared& p, const PrepareCallbacks& cb);
  void give_up_memory(const Graph& g, const std::string& what);
  void release_device_only_weights(const Graph& g, const Plan& plan);

  std::unique_ptr<CpuBackend> cpu_;
  std::unique_ptr<ClBackend> cl_;
  std::vector<Backend*> list_;
  ScheduleOptions sched_;
};

}  // namespace bluecl
