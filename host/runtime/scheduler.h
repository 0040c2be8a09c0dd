// Placement: which device runs each node, and why. schedule() runs these passes in this order, each a
// function of what it is given (scheduler.cpp, same names):
//   1. pin_nodes: user pins by tensor-name pattern ("v.blk.*=cpu")
//   2. keep_host_weights: a node reading a weight kept in host memory (the device ran out) runs on the
//      CPU; the plan lists those weights
//   3. drop_declined: devices that decline a node (their supports(), or a decline found when its kernels
//      were prepared, ScheduleOptions::declined) leave its candidates; the plan lists every decline
//   4. estimate_costs: each node's time on each candidate device (cost model; zeros without one)
//   5. choose_devices: the cheapest candidate by the cost model, or without one the preferred device
//      (the first OpenCL device if any, else the CPU)
//   6. group_states: the nodes touching a group of states (a layer's K and V caches) run together
//   7. merge_runs (cost model): a short run between neighbours on another device joins them when the
//      transfers it saves outweigh the time it loses
//   8. insert_transfers: an explicit Transfer node wherever a tensor crosses devices
// Backends are only asked (supports()), never changed: a fallback is an input of the next schedule and
// a line of its plan. The plan is data, printable by `bluecl plan`.
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
  int source = -1;     // the node's index in the graph before schedule(); -1 for an inserted Transfer
};

// A device that does not run a node: declined by its supports() at schedule, or found at prepare (a
// kernel that fails to build, a launch the device cannot fit) and given back to the next schedule of
// the same graph through ScheduleOptions::declined.
struct Decline {
  int node = -1;  // index in the graph before schedule() (Placement::source)
  OpKind op = OpKind::Transfer;
  int device = 0;      // index into the backend list
  std::string reason;  // the backend's words
};

struct Plan {
  std::vector<Placement> nodes;        // one per graph node (Transfers included)
  std::vector<Decline> declined;       // every (node, device) pair that a decline ruled out
  std::vector<TensorId> host_weights;  // weights this graph reads that stay in host memory
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
  // Declines found when this graph's kernels were prepared (see Devices::prepare); node indices refer to
  // the graph as given to schedule().
  std::vector<Decline> declined;
};

// backends[0] must be the CPU backend (it runs every op). Inserts Transfer nodes into g.
Plan schedule(Graph& g, const std::vector<Backend*>& backends, const ScheduleOptions& opts = {});

// One line per node: index, op, output name, shape, device, reason; then the declined ops (op, device,
// reason, how many nodes) and the weights kept in host memory.
std::string format_plan(const Graph& g, const Plan& plan, const std::vector<Backend*>& backends);

}  // namespace bluecl
