// An op profile: where a step's time goes, node by node. Off unless started; while on, the executor waits
// for each node to finish on its device before the next one starts, so every node's time is its own
// (launch, kernel and the device's per-launch cost) and the profiled run is slower than a normal one.
// For finding where time goes, not for measuring speed (that is `bluecl bench`).
//
// Rows are keyed by the node's name without its layer suffix ("ffn_gate-12" -> "ffn_gate"), the op and
// the device, so one row sums a role over every layer.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace bluecl {

class OpProfile {
 public:
  static OpProfile& get();

  void start();  // clears and begins recording
  void stop();
  bool on() const { return on_; }

  // One node of one step: `name` is the node's output name, `op` its op, `device` where it ran.
  void record(const std::string& name, std::string_view op, std::string_view device, double seconds);
  // One step (one run of a graph: a decode token, a prefill chunk); the table reports per-step times.
  void step();

  struct Row {
    int64_t calls = 0;
    double seconds = 0;
  };
  using Key = std::tuple<std::string, std::string, std::string>;  // role, op, device
  std::map<Key, Row> rows() const;

  // A markdown table, largest rows first: role, op, device, runs per step, ms per step, share.
  std::string table() const;

 private:
  mutable std::mutex mu_;
  bool on_ = false;
  int64_t steps_ = 0;
  std::map<Key, Row> rows_;
};

// The role of a node: its name without a trailing "-<digits>" layer suffix.
std::string profile_role(const std::string& name);

}  // namespace bluecl
