// Estimated time of each op on each device, from a short calibration run on that device (cached on disk
// per device, driver, thread count and bluecl version): effective bandwidth and compute rates per class
// of op, a per-launch overhead, and the cost of moving bytes between the device and the host. The
// scheduler places each node where it is cheapest, then merges runs to save transfers.
#pragma once

#include "backend/backend.h"
#include "graph/graph.h"

#include <array>
#include <string>
#include <vector>

namespace bluecl {

// What limits an op: weights streamed once (GEMV), arithmetic (GEMM, attention over many queries),
// or memory traffic (everything else).
enum class CostClass : uint8_t {
  GemvQ4,
  GemvQ8,
  GemvF16,
  GemvF32,
  GemmQ4,
  GemmQ8,
  GemmF16,
  GemmF32,
  Attention,
  Memory,
  Count_
};
inline constexpr int kNumCostClasses = static_cast<int>(CostClass::Count_);

struct DeviceCosts {
  std::string key;                             // device, driver, threads: what the cache is keyed by
  std::array<double, kNumCostClasses> rate{};  // bytes/s (GEMV, Memory) or FLOP/s (GEMM, Attention)
  double launch_s = 0;                         // per op
  double to_host_bps = 0, from_host_bps = 0;   // transfer bandwidth (0 on the CPU: no transfer)
  double transfer_latency_s = 0;
};

// Bytes and FLOPs of a node, and its class.
struct OpWork {
  CostClass cls = CostClass::Memory;
  double bytes = 0, flops = 0;
};
OpWork op_work(const Graph& g, const Node& n);

double estimate_seconds(const DeviceCosts& c, const OpWork& w);
// Time to move `bytes` between devices a and b (one of them the CPU, or both OpenCL through the host).
double transfer_seconds(const DeviceCosts& a, const DeviceCosts& b, size_t bytes);

// Measures a backend (about a second; CPU and OpenCL alike), or reads the cached result.
DeviceCosts calibrate(Backend& be, const std::string& cache_dir);

}  // namespace bluecl
