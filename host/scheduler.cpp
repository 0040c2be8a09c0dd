#include "host/scheduler.h"

#include "graph/error.h"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <set>

namespace bluecl {

bool glob_match(std::string_view p, std::string_view t) {
  // Iterative '*' matching with backtracking to the last star.
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::vector<Pin> parse_pins(std::string_view text) {
  std::vector<Pin> pins;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size())
      fail(Status::InvalidArgument, "bad pin '{}': expected pattern=device, e.g. \"v.blk.*=cpu\"", item);
    pins.push_back({std::string(item.substr(0, eq)), std::string(item.substr(eq + 1))});
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return pins;
}

namespace {

int find_device(const std::vector<Backend*>& backends, const std::string& name) {
  for (size_t i = 0; i < backends.size(); ++i) {
    const Backend& b = *backends[i];
    if (b.name() == name) return static_cast<int>(i);
    if (name == "cpu" && b.kind() == DeviceKind::Cpu) return static_cast<int>(i);
    if ((name == "cl" || name == "gpu") && b.kind() == DeviceKind::OpenCl) return static_cast<int>(i);
    if (b.kind() == DeviceKind::OpenCl && b.name().rfind(name + " ", 0) == 0) return static_cast<int>(i);  // "cl0"
  }
  return -1;
}

// "cl0" for "cl0 (pthread-haswell-AMD EPYC)".
std::string short_name(const Backend& b) {
  const std::string n = b.name();
  return n.substr(0, n.find(' '));
}

}  // namespace

Plan schedule(Graph& g, const std::vector<Backend*>& backends, const ScheduleOptions& opts) {
  BLUECL_ASSERT(!backends.empty() && backends[0]->kind() == DeviceKind::Cpu, "backends[0] must be the CPU");
  for (const Pin& p : opts.pins)
    if (find_device(backends, p.device) < 0)
      fail(Status::InvalidArgument, "pin '{}={}': no such device (have: cpu{})", p.pattern, p.device,
           backends.size() > 1 ? ", cl" : "");
  int preferred = opts.preferred;
  if (preferred < 0) {
    preferred = 0;
    for (size_t i = 0; i < backends.size(); ++i)
      if (backends[i]->kind() == DeviceKind::OpenCl) {
        preferred = static_cast<int>(i);
        break;
      }
  }

  const int n_nodes = static_cast<int>(g.nodes().size());
  std::vector<Placement> place(n_nodes);
  for (int i = 0; i < n_nodes; ++i) {
    const Node& n = g.nodes()[i];
    const std::string& name = g.info(n.out).name;
    Placement& p = place[i];
    bool pinned = false;
    for (const Pin& pin : opts.pins) {  // 1. pins (the first match wins)
      if (!glob_match(pin.pattern, name)) continue;
      p = {find_device(backends, pin.device), fmt::format("pinned: {}={}", pin.pattern, pin.device)};
      pinned = true;
      break;
    }
    if (!pinned) p = {preferred, "default"};
    if (p.device != 0) {  // 3. weight residency
      for (int k = 0; k < n.n_src; ++k) {
        const TensorInfo& t = g.info(n.src[k]);
        if (t.kind == TensorKind::Weight && opts.host_weights.count(t.data)) {
          p = {0, fmt::format("weight {} is in host memory (the device ran out)", t.name)};
          break;
        }
      }
    }
    const Support s = backends[p.device]->supports(g, n);  // 4. support
    if (!s.ok) p = {0, fmt::format("{}{}: {}", pinned ? "pin overridden; " : "", short_name(*backends[p.device]), s.reason)};
  }

  // 5. State affinity. States read by one node (attention reads K and V) live together: group them, and
  // let the group's first user decide where it lives; if any user is declined there, all go to the CPU.
  std::map<TensorId, TensorId> parent;
  std::function<TensorId(TensorId)> root = [&](TensorId t) { return parent[t] == t ? t : parent[t] = root(parent[t]); };
  std::vector<std::vector<TensorId>> node_states(n_nodes);
  for (int i = 0; i < n_nodes; ++i) {
    const Node& n = g.nodes()[i];
    for (int k = 0; k < n.n_src; ++k) {
      const TensorId b = g.base_of(n.src[k]);
      if (g.info(b).kind != TensorKind::State) continue;
      parent.try_emplace(b, b);
      node_states[i].push_back(b);
    }
    for (size_t k = 1; k < node_states[i].size(); ++k) parent[root(node_states[i][k])] = root(node_states[i][0]);
  }
  std::map<TensorId, std::vector<int>> users;  // group root -> nodes touching any of its states
  for (int i = 0; i < n_nodes; ++i)
    if (!node_states[i].empty()) users[root(node_states[i][0])].push_back(i);
  for (auto& [group, nodes] : users) {
    int dev = opts.states_on_host ? 0 : place[nodes.front()].device;
    for (int u : nodes)
      if (!backends[dev]->supports(g, g.nodes()[u]).ok) dev = 0;
    for (int u : nodes)
      if (place[u].device != dev)
        place[u] = {dev, fmt::format("state {} lives on {}{}", g.info(group).name, short_name(*backends[dev]),
                                     opts.states_on_host ? " (the device ran out of memory)" : "")};
  }

  // 6. Transfers. A tensor lives where its producer runs; inputs and weights are materialised on every
  // device that reads them, so only intermediates cross devices.
  Plan plan;
  std::map<std::pair<TensorId, int>, TensorId> moved;  // (tensor, device) -> its copy there
  for (int i = 0; i < static_cast<int>(g.nodes().size()); ++i) {
    const int dev = place[i].device;
    for (int s = 0; s < g.nodes()[i].n_src; ++s) {
      const TensorId src = g.nodes()[i].src[s];
      const TensorInfo& si = g.info(g.base_of(src));
      if (si.kind != TensorKind::Intermediate) continue;
      const int from = place[si.producer].device;
      if (from == dev) continue;
      auto it = moved.find({src, dev});
      if (it != moved.end()) {
        g.nodes_mut(i).src[s] = it->second;
        continue;
      }
      const Tensor t = g.insert_transfer(i, s, fmt::format("{}@{}", g.info(src).name, short_name(*backends[dev])));
      place.insert(place.begin() + i, Placement{dev, fmt::format("from {}", short_name(*backends[from]))});
      moved[{src, dev}] = t.id;
      plan.n_transfers++;
      plan.transfer_bytes += g.info(t).bytes();
      ++i;  // the node we were looking at moved one slot down
    }
  }
  plan.nodes = std::move(place);
  return plan;
}

std::string format_plan(const Graph& g, const Plan& plan, const std::vector<Backend*>& backends) {
  std::string out;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    const TensorInfo& o = g.info(n.out);
    out += fmt::format("{:5} {:<11} {:<28} {:<22} {:<6} {}\n", i, op_name(n.kind), o.name, o.shape.str(),
                       short_name(*backends[plan.nodes[i].device]), plan.nodes[i].reason);
  }
  out += fmt::format("{} transfers, {} bytes per run\n", plan.n_transfers, plan.transfer_bytes);
  return out;
}

}  // namespace bluecl
