// The devices a model runs on: always the CPU backend, plus one OpenCL device unless asked for the CPU
// alone or none is present (then a notice, and everything runs on the CPU).
#pragma once

#include "backend/cl/cl_backend.h"
#include "backend/cpu/cpu_backend.h"
#include "host/scheduler.h"

#include <memory>
#include <string>
#include <vector>

namespace bluecl {

struct DeviceOptions {
  std::string device;   // "" (BLUECL_DEVICE, else the first GPU, else the first OpenCL device), "cpu",
                        // an index, or a name substring
  int n_threads = 0;    // CPU threads; 0: BLUECL_THREADS, else all cores
  std::string pins;     // "pattern=device,..." (see host/scheduler.h)
  std::string decline;  // ops the OpenCL backend declines ("rope,softmax"), for testing fallback
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

 private:
  std::unique_ptr<CpuBackend> cpu_;
  std::unique_ptr<ClBackend> cl_;
  std::vector<Backend*> list_;
  ScheduleOptions sched_;
};

}  // namespace bluecl
