#include "host/runtime/scheduler.h"

#include "graph/base/error.h"

#include <fmt/format.h>

#include <algorithm>
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
    if (b.kind() == DeviceKind::OpenCl && b.name().rfind(name + " ", 0) == 0)
      return static_cast<int>(i);  // "cl0"
  }
  return -1;
}

// "cl0" for "cl0 (pthread-haswell-AMD EPYC)".
std::string short_name(const Backend& b) {
  const std::string n = b.name();
  return n.substr(0, n.find(' '));
}

}  // namespace

namespace {

// The cost of a placement: every node's estimate on its device plus one transfer per (tensor, other
// device that reads it).
double placement_cost(const Graph& g, const std::vector<int>& dev,
                      const std::vector<std::vector<double>>& est, const std::vector<DeviceCosts>& costs) {
  double t = 0;
  std::set<std::pair<TensorId, int>> moved;
  for (size_t i = 0; i < dev.size(); ++i) {
    t += est[i][dev[i]];
    const Node& n = g.nodes()[i];
    for (int k = 0; k < n.n_src; ++k) {
      const TensorInfo& b = g.info(g.base_of(n.src[k]));
      if (b.kind != TensorKind::Intermediate || dev[b.producer] == dev[i]) continue;
      if (moved.insert({n.src[k], dev[i]}).second)
        t += transfer_seconds(costs[dev[b.producer]], costs[dev[i]], g.info(n.src[k]).bytes());
    }
  }
  return t;
}

std::string ms(double s) {
  return s < 1e-4 ? fmt::format("{:.1f} us", s * 1e6) : fmt::format("{:.2f} ms", s * 1e3);
}

}  // namespace

Plan schedule(Graph& g, const std::vector<Backend*>& backends, const ScheduleOptions& opts) {
  BLUECL_ASSERT(!backends.empty() && backends[0]->kind() == DeviceKind::Cpu, "backends[0] must be the CPU");
  for (const Pin& p : opts.pins)
    if (find_device(backends, p.device) < 0)
      fail(Status::InvalidArgument, "pin '{}={}': no such device (have: cpu{})", p.pattern, p.device,
           backends.size() > 1 ? ", cl" : "");
  const int n_dev = static_cast<int>(backends.size());
  const bool by_cost = static_cast<int>(opts.costs.size()) == n_dev && opts.preferred < 0;
  int preferred = opts.preferred;
  if (preferred < 0) {
    preferred = 0;
    for (int d = 0; d < n_dev; ++d)
      if (backends[d]->kind() == DeviceKind::OpenCl) {
        preferred = d;
        break;
      }
  }

  const int n_nodes = static_cast<int>(g.nodes().size());
  std::vector<std::vector<int>> allowed(n_nodes);  // devices each node may run on
  std::vector<bool> fixed(n_nodes, false);         // placed by a rule, not by cost
  std::vector<Placement> place(n_nodes);
  std::vector<std::vector<double>> est(n_nodes, std::vector<double>(n_dev, 0.0));
  for (int i = 0; i < n_nodes; ++i) {
    const Node& n = g.nodes()[i];
    const std::string& name = g.info(n.out).name;
    std::string reason;
    std::vector<int>& a = allowed[i];
    for (int d = 0; d < n_dev; ++d) a.push_back(d);
    for (const Pin& pin : opts.pins) {  // 1. pins (the first match wins)
      if (!glob_match(pin.pattern, name)) continue;
      a = {find_device(backends, pin.device)};
      reason = fmt::format("pinned: {}={}", pin.pattern, pin.device);
      fixed[i] = true;
      break;
    }
    for (int k = 0; k < n.n_src; ++k) {  // 3. weight residency
      const TensorInfo& t = g.info(n.src[k]);
      if (t.kind == TensorKind::Weight && opts.host_weights.count(t.data) && !(a.size() == 1 && a[0] == 0)) {
        a = {0};
        reason = fmt::format("weight {} is in host memory (the device ran out)", t.name);
        fixed[i] = true;
        break;
      }
    }
    std::string declined;  // 4. support
    std::erase_if(a, [&](int d) {
      const Support s = backends[d]->supports(g, n);
      if (!s.ok && declined.empty()) declined = fmt::format("{}: {}", short_name(*backends[d]), s.reason);
      return !s.ok;
    });
    if (a.empty()) a = {0};  // the CPU runs every op
    if (!declined.empty() && (fixed[i] || a.size() == 1)) {
      reason = (fixed[i] ? "pin overridden; " : "") + declined;
      fixed[i] = true;
    }
    const OpWork w = by_cost ? op_work(g, n) : OpWork{};
    for (int d : a) est[i][d] = by_cost ? estimate_seconds(opts.costs[d], w) : 0.0;
    // 2. default: the cheapest allowed device by the cost model, else the preferred device.
    int dev = a[0];
    if (by_cost) {
      for (int d : a)
        if (est[i][d] < est[i][dev]) dev = d;
    } else if (std::find(a.begin(), a.end(), preferred) != a.end()) {
      dev = preferred;
    }
    if (reason.empty()) {
      reason = "default";
      if (by_cost && a.size() > 1) {
        reason = "cost: " + short_name(*backends[dev]) + " " + ms(est[i][dev]);
        for (int d : a)
          if (d != dev) reason += fmt::format(" (vs {} {})", short_name(*backends[d]), ms(est[i][d]));
      }
    }
    place[i] = {dev, reason};
  }

  // 5. State affinity. States read by one node (attention reads K and V) live together: group them. A
  // group lives where its users together cost least (by cost) or where its first user runs; only devices
  // that run every user qualify, and the CPU always does.
  std::map<TensorId, TensorId> parent;
  std::function<TensorId(TensorId)> root = [&](TensorId t) {
    return parent[t] == t ? t : parent[t] = root(parent[t]);
  };
  std::vector<std::vector<TensorId>> node_states(n_nodes);
  for (int i = 0; i < n_nodes; ++i) {
    const Node& n = g.nodes()[i];
    for (int k = 0; k < n.n_src; ++k) {
      const TensorId b = g.base_of(n.src[k]);
      if (g.info(b).kind != TensorKind::State) continue;
      parent.try_emplace(b, b);
      node_states[i].push_back(b);
    }
    for (size_t k = 1; k < node_states[i].size(); ++k)
      parent[root(node_states[i][k])] = root(node_states[i][0]);
  }
  std::map<TensorId, std::vector<int>> users;  // group root -> nodes touching any of its states
  for (int i = 0; i < n_nodes; ++i)
    if (!node_states[i].empty()) users[root(node_states[i][0])].push_back(i);
  for (auto& [group, nodes] : users) {
    auto runs_all = [&](int d) {
      return std::all_of(nodes.begin(), nodes.end(), [&](int u) {
        return std::find(allowed[u].begin(), allowed[u].end(), d) != allowed[u].end();
      });
    };
    int dev = opts.states_on_host ? 0 : place[nodes.front()].device;
    if (!opts.states_on_host && opts.state_device >= 0 && runs_all(opts.state_device)) {
      dev = opts.state_device;
    } else if (by_cost && !opts.states_on_host) {
      double best = 1e300;
      for (int d = 0; d < n_dev; ++d) {
        if (!runs_all(d)) continue;
        double t = 0;
        for (int u : nodes) t += est[u][d];
        if (t < best) best = t, dev = d;
      }
    }
    if (!runs_all(dev)) dev = 0;
    for (int u : nodes) {
      fixed[u] = true;
      allowed[u] = {dev};
      if (place[u].device != dev)
        place[u] = {dev, fmt::format("state {} lives on {}{}", g.info(group).name, short_name(*backends[dev]),
                                     opts.states_on_host ? " (the device ran out of memory)" : "")};
    }
  }

  // 6. Merging runs (by cost): a run of nodes between neighbours on another device moves there when the
  // transfers it saves outweigh the time it loses.
  if (by_cost) {
    std::vector<int> dev(n_nodes);
    for (int i = 0; i < n_nodes; ++i) dev[i] = place[i].device;
    double current = placement_cost(g, dev, est, opts.costs);
    for (bool changed = true; changed;) {
      changed = false;
      for (int b = 0; b < n_nodes;) {
        int e = b;
        while (e + 1 < n_nodes && dev[e + 1] == dev[b]) ++e;
        std::set<int> targets;
        if (b > 0) targets.insert(dev[b - 1]);
        if (e + 1 < n_nodes) targets.insert(dev[e + 1]);
        for (int t : targets) {
          bool movable = true;
          for (int i = b; i <= e && movable; ++i)
            movable = !fixed[i] && std::find(allowed[i].begin(), allowed[i].end(), t) != allowed[i].end();
          if (!movable) continue;
          std::vector<int> trial = dev;
          for (int i = b; i <= e; ++i) trial[i] = t;
          const double c = placement_cost(g, trial, est, opts.costs);
          if (c < current - 1e-9) {
            for (int i = b; i <= e; ++i)
              place[i] = {t, fmt::format("merged into the {} run around it (saves {} of transfers)",
                                         short_name(*backends[t]), ms(current - c))};
            dev = std::move(trial);
            current = c;
            changed = true;
            break;
          }
        }
        b = e + 1;
      }
    }
  }

  // 7. Transfers. A tensor lives where its producer runs; inputs and weights are materialised on every
  // device that reads them, so only intermediates cross devices.
  Plan plan;
  for (int i = 0; i < n_nodes; ++i) {
    place[i].est_s = est[i][place[i].device];
    plan.est_seconds += place[i].est_s;
  }
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
      const Tensor t =
          g.insert_transfer(i, s, fmt::format("{}@{}", g.info(src).name, short_name(*backends[dev])));
      Placement tp{dev, fmt::format("from {}", short_name(*backends[from]))};
      if (by_cost) tp.est_s = transfer_seconds(opts.costs[from], opts.costs[dev], g.info(t).bytes());
      plan.est_seconds += tp.est_s;
      place.insert(place.begin() + i, tp);
      moved[{src, dev}] = t.id;
      plan.n_transfers++;
      plan.transfer_bytes += g.info(t).bytes();
      ++i;  // the node we were looking at moved one slot down
    }
  }
  plan.nodes = std::move(place);
  plan.by_cost = by_cost;
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
  out += fmt::format("{} transfers, {} bytes per run", plan.n_transfers, plan.transfer_bytes);
  if (plan.by_cost) out += fmt::format("; estimated {:.2f} ms per run", plan.est_seconds * 1e3);
  out += "\n";
  return out;
}

}  // namespace bluecl
