// Placement: which device runs each node, and why. Passes run in a fixed order:
//   1. user pins by tensor-name pattern ("v.blk.*=cpu")
//   2. default: the cheapest device by the cost model (measured per device), or without one the
//      preferred device (the first OpenCL device if any, else the CPU)
//   3. weight residency: a node reading a weight kept in host memory (the device ran out) runs on the CPU
//   4. what each backend supports on this device (declined ops go to the CPU, with the backend's reason)
//   5. state affinity: the nodes touching a group of states (a layer's K and V caches) run together
//   6. merging runs (cost model): a short run between neighbours on another device joins them when the
//      transfers it saves outweigh the time it loses
//   7. transfers: an explicit Transfer node wherever a tensor crosses devices
// The plan is data, printable by `bluecl plan`.
#pragma once

#include "backend/backend.h"
#include "graph/graph.h"
#include "host/runtime/cost_model.h"

#include <set>
#include <string>
#include <vector>

namespace bluecl {

// A user pin: nodes whose output name matches `pattern` ('*' matches any run of characters) run on
// `device` ("cpu", "cl" for the first OpenCL device, or a backend's exact name).
struct Pin {
  std::string pattern;
  std::string device;
};
// Parses "pattern=device[,pattern=device...]"; throws InvalidArgument on malformed text.
std::vector<Pin> parse_pins(std::string_view text);
bool glob_match(std::string_view pattern, std::string_view text);

struct Placement {
  int device = 0;      // index into the backend list
  std::string reason;  // "default", "pinned: v.blk.*=cpu", "cl0: declined ...", "cost: ...", ...
  double est_s = 0;    // estimated time (cost model), 0 without one
};

struct Plan {
  std::vector<Placement> nodes;  // one per graph node (Transfers included)
  int n_transfers = 0;
  size_t transfer_bytes = 0;  // bytes moved between devices per run
  bool by_cost = false;       // placed by the cost model
  double est_seconds = 0;     // estimated time per run (cost model)
};

struct ScheduleOptions {
  std::vector<Pin> pins;
  std::set<const void*> host_weights;  // weights (by host data) that stay in host memory
  bool states_on_host = false;         // state tensors (KV caches) and the ops touching them on the CPU
  int state_device = -1;               // where state groups live when their users run there (the device of
                                       // an existing KV cache, so graphs of other shapes do not move it)
  // Placement policy: with `costs` (one per backend) and no `preferred`, the cost model; otherwise the
  // preferred backend (-1: the first OpenCL backend, else the CPU) unless it declines an op.
  std::vector<DeviceCosts> costs;
  int preferred = -1;
};

// backends[0] must be the CPU backend (it runs every op). Inserts Transfer nodes into g.
Plan schedule(Graph& g, const std::vector<Backend*>& backends, const ScheduleOptions& opts = {});

// One line per node: index, op, output name, shape, device, reason.
std::string format_plan(const Graph& g, const Plan& plan, const std::vector<Backend*>& backends);

}  // namespace bluecl
