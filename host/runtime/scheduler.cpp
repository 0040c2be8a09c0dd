#include "host/runtime/scheduler.h"

#include "graph/base/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <tuple>

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

// The placement being built, one entry per node of the graph as given (before any transfer).
struct Draft {
  std::vector<std::vector<int>> allowed;  // devices each node may run on
  std::vector<bool> fixed;                // placed by a rule (pin, residency, decline, state), not by cost
  std::vector<Placement> place;           // the chosen device and why ("" until a rule or the choice says)
  std::vector<std::vector<double>> est;   // [node][device]: estimated seconds, 0 without a cost model

  Draft(int n_nodes, int n_dev)
      : allowed(n_nodes),
        fixed(n_nodes, false),
        place(n_nodes),
        est(n_nodes, std::vector<double>(n_dev, 0.0)) {
    for (int i = 0; i < n_nodes; ++i) {
      for (int d = 0; d < n_dev; ++d) allowed[i].push_back(d);
      place[i].source = i;
    }
  }
  bool may_run(int node, int device) const {
    return std::find(allowed[node].begin(), allowed[node].end(), device) != allowed[node].end();
  }
};

void check_inputs(const std::vector<Backend*>& backends, const ScheduleOptions& opts) {
  BLUECL_ASSERT(!backends.empty() && backends[0]->kind() == DeviceKind::Cpu, "backends[0] must be the CPU");
  for (const Pin& p : opts.pins)
    if (find_device(backends, p.device) < 0)
      fail(Status::InvalidArgument, "pin '{}={}': no such device (have: cpu{})", p.pattern, p.device,
           backends.size() > 1 ? ", cl" : "");
  for (const Decline& d : opts.declined)
    BLUECL_ASSERT(d.device > 0 && d.device < static_cast<int>(backends.size()), "a decline on device {}",
                  d.device);
}

// The device a node runs on without a cost model: `preferred`, else the first OpenCL device, else the CPU.
int preferred_device(const std::vector<Backend*>& backends, int preferred) {
  if (preferred >= 0) return preferred;
  for (size_t d = 0; d < backends.size(); ++d)
    if (backends[d]->kind() == DeviceKind::OpenCl) return static_cast<int>(d);
  return 0;
}

// 1. User pins: the first pattern matching a node's output name fixes its device.
void pin_nodes(const Graph& g, const std::vector<Backend*>& backends, const std::vector<Pin>& pins,
               Draft& d) {
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const std::string& name = g.info(g.nodes()[i].out).name;
    for (const Pin& pin : pins) {
      if (!glob_match(pin.pattern, name)) continue;
      d.allowed[i] = {find_device(backends, pin.device)};
      d.place[i].reason = fmt::format("pinned: {}={}", pin.pattern, pin.device);
      d.fixed[i] = true;
      break;
    }
  }
}

// 2. Weight residency: a node reading a weight that stays in host memory runs on the CPU (over a pin).
// Returns those weights, for the plan.
std::vector<TensorId> keep_host_weights(const Graph& g, const std::set<const void*>& host_weights, Draft& d) {
  std::set<TensorId> read;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    bool placed = d.allowed[i].size() == 1 && d.allowed[i][0] == 0;  // already on the CPU alone
    for (int k = 0; k < n.n_src; ++k) {
      const TensorInfo& t = g.info(n.src[k]);
      if (t.kind != TensorKind::Weight || !host_weights.count(t.data)) continue;
      read.insert(n.src[k]);
      if (placed) continue;
      d.allowed[i] = {0};
      d.place[i].reason = fmt::format("weight {} is in host memory (the device ran out)", t.name);
      d.fixed[i] = true;
      placed = true;
    }
  }
  return {read.begin(), read.end()};
}

// 3. Support: a device that declines a node, by its supports() or by a decline found at prepare, leaves
// the node's candidates (the CPU runs every op). A node left with one device (or placed by a rule) says
// which device declined it and why. Returns every decline, for the plan.
std::vector<Decline> drop_declined(const Graph& g, const std::vector<Backend*>& backends,
                                   const std::vector<Decline>& at_prepare, Draft& d) {
  std::map<std::pair<int, int>, std::string> prepared;  // (node, device) -> why it failed at prepare
  for (const Decline& x : at_prepare) prepared.try_emplace({x.node, x.device}, x.reason);
  std::vector<Decline> out;
  for (int i = 0; i < static_cast<int>(g.nodes().size()); ++i) {
    const Node& n = g.nodes()[i];
    std::string first;  // "cl0: <reason>" of the first device that declines
    std::erase_if(d.allowed[i], [&](int dev) {
      Support s = backends[dev]->supports(g, n);
      if (auto it = prepared.find({i, dev}); s.ok && it != prepared.end()) s = Support::no(it->second);
      if (s.ok) return false;
      if (first.empty()) first = fmt::format("{}: {}", short_name(*backends[dev]), s.reason);
      out.push_back({i, n.kind, dev, std::move(s.reason)});
      return true;
    });
    if (d.allowed[i].empty()) d.allowed[i] = {0};
    if (!first.empty() && (d.fixed[i] || d.allowed[i].size() == 1)) {
      d.place[i].reason = (d.fixed[i] ? "pin overridden; " : "") + first;
      d.fixed[i] = true;
    }
  }
  return out;
}

// 4. Cost estimates: each node's time on each device it may run on (nothing without a cost model).
void estimate_costs(const Graph& g, const std::vector<DeviceCosts>& costs, Draft& d) {
  if (costs.empty()) return;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const OpWork w = op_work(g, g.nodes()[i]);
    for (int dev : d.allowed[i]) d.est[i][dev] = estimate_seconds(costs[dev], w);
  }
}

// 5. The default: the cheapest candidate by the cost model, else `preferred` when it is a candidate, else
// the first candidate. A node no rule placed says why ("default", or the estimates compared).
void choose_devices(const std::vector<Backend*>& backends, int preferred, bool by_cost, Draft& d) {
  for (size_t i = 0; i < d.place.size(); ++i) {
    const std::vector<int>& a = d.allowed[i];
    int dev = a[0];
    if (by_cost) {
      for (int x : a)
        if (d.est[i][x] < d.est[i][dev]) dev = x;
    } else if (d.may_run(static_cast<int>(i), preferred)) {
      dev = preferred;
    }
    d.place[i].device = dev;
    std::string& reason = d.place[i].reason;
    if (!reason.empty()) continue;
    reason = "default";
    if (!by_cost || a.size() < 2) continue;
    reason = "cost: " + short_name(*backends[dev]) + " " + ms(d.est[i][dev]);
    for (int x : a)
      if (x != dev) reason += fmt::format(" (vs {} {})", short_name(*backends[x]), ms(d.est[i][x]));
  }
}

// Groups of state tensors read together (attention reads K and V): group root -> the nodes touching
// any state of the group, in graph order.
std::map<TensorId, std::vector<int>> state_groups(const Graph& g) {
  std::map<TensorId, TensorId> parent;
  std::function<TensorId(TensorId)> root = [&](TensorId t) {
    return parent[t] == t ? t : parent[t] = root(parent[t]);
  };
  const int n_nodes = static_cast<int>(g.nodes().size());
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
  std::map<TensorId, std::vector<int>> users;
  for (int i = 0; i < n_nodes; ++i)
    if (!node_states[i].empty()) users[root(node_states[i][0])].push_back(i);
  return users;
}

// 6. State affinity: a group of states lives where its users together cost least (cost model), or at
// `state_device`, or where its first user runs; only a device that runs every user qualifies (the CPU
// always does), and with `states_on_host` the CPU. Its users run there.
void group_states(const Graph& g, const std::vector<Backend*>& backends, const ScheduleOptions& opts,
                  bool by_cost, Draft& d) {
  const int n_dev = static_cast<int>(backends.size());
  const std::map<TensorId, std::vector<int>> groups = state_groups(g);
  for (const auto& entry : groups) {
    // Not a structured binding: clang before 16 cannot capture one in a lambda (tools/sanitize.sh).
    const TensorId group = entry.first;
    const std::vector<int>& nodes = entry.second;
    auto runs_all = [&](int dev) {
      return std::all_of(nodes.begin(), nodes.end(), [&](int u) { return d.may_run(u, dev); });
    };
    int dev = opts.states_on_host ? 0 : d.place[nodes.front()].device;
    if (!opts.states_on_host && opts.state_device >= 0 && runs_all(opts.state_device)) {
      dev = opts.state_device;
    } else if (by_cost && !opts.states_on_host) {
      double best = 1e300;
      for (int x = 0; x < n_dev; ++x) {
        if (!runs_all(x)) continue;
        double t = 0;
        for (int u : nodes) t += d.est[u][x];
        if (t < best) best = t, dev = x;
      }
    }
    if (!runs_all(dev)) dev = 0;
    for (int u : nodes) {
      d.fixed[u] = true;
      d.allowed[u] = {dev};
      if (d.place[u].device != dev)
        d.place[u] = {dev,
                      fmt::format("state {} lives on {}{}", g.info(group).name, short_name(*backends[dev]),
                                  opts.states_on_host ? " (the device ran out of memory)" : ""),
                      0, u};
    }
  }
}

// 7. Merging runs (cost model): a run of nodes between neighbours on another device moves there when
// the transfers it saves outweigh the time it loses; repeated until no move helps.
void merge_runs(const Graph& g, const std::vector<Backend*>& backends, const std::vector<DeviceCosts>& costs,
                Draft& d) {
  if (costs.empty()) return;
  const int n_nodes = static_cast<int>(d.place.size());
  std::vector<int> dev(n_nodes);
  for (int i = 0; i < n_nodes; ++i) dev[i] = d.place[i].device;
  double current = placement_cost(g, dev, d.est, costs);
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
        for (int i = b; i <= e && movable; ++i) movable = !d.fixed[i] && d.may_run(i, t);
        if (!movable) continue;
        std::vector<int> trial = dev;
        for (int i = b; i <= e; ++i) trial[i] = t;
        const double c = placement_cost(g, trial, d.est, costs);
        if (c < current - 1e-9) {
          for (int i = b; i <= e; ++i)
            d.place[i] = {t,
                          fmt::format("merged into the {} run around it (saves {} of transfers)",
                                      short_name(*backends[t]), ms(current - c)),
                          0, i};
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

// 8. Transfers. A tensor lives where its producer runs; inputs and weights are materialised on every
// device that reads them, so only intermediates cross devices. Inserts the Transfer nodes into g and
// turns the draft into the plan.
Plan insert_transfers(Graph& g, const std::vector<Backend*>& backends, const std::vector<DeviceCosts>& costs,
                      Draft&& d) {
  Plan plan;
  std::vector<Placement> place = std::move(d.place);
  for (size_t i = 0; i < place.size(); ++i) {
    place[i].est_s = d.est[i][place[i].device];
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
      if (!costs.empty()) tp.est_s = transfer_seconds(costs[from], costs[dev], g.info(t).bytes());
      plan.est_seconds += tp.est_s;
      place.insert(place.begin() + i, tp);
      moved[{src, dev}] = t.id;
      plan.n_transfers++;
      plan.transfer_bytes += g.info(t).bytes();
      ++i;  // the node we were looking at moved one slot down
    }
  }
  plan.nodes = std::move(place);
  return plan;
}

}  // namespace

Plan schedule(Graph& g, const std::vector<Backend*>& backends, const ScheduleOptions& opts) {
  check_inputs(backends, opts);
  const bool by_cost = opts.costs.size() == backends.size() && opts.preferred < 0;
  const std::vector<DeviceCosts> none;
  const std::vector<DeviceCosts>& costs = by_cost ? opts.costs : none;
  Draft d(static_cast<int>(g.nodes().size()), static_cast<int>(backends.size()));
  pin_nodes(g, backends, opts.pins, d);
  std::vector<TensorId> host_weights = keep_host_weights(g, opts.host_weights, d);
  std::vector<Decline> declined = drop_declined(g, backends, opts.declined, d);
  estimate_costs(g, costs, d);
  choose_devices(backends, preferred_device(backends, opts.preferred), by_cost, d);
  group_states(g, backends, opts, by_cost, d);
  merge_runs(g, backends, costs, d);
  Plan plan = insert_transfers(g, backends, costs, std::move(d));
  plan.declined = std::move(declined);
  plan.host_weights = std::move(host_weights);
  plan.by_cost = by_cost;
  return plan;
}

namespace {

// One line per (op, device, reason): how many nodes, and the first of them by output name.
std::string format_declines(const Graph& g, const Plan& plan, const std::vector<Backend*>& backends) {
  std::vector<int> scheduled(plan.nodes.size(), -1);  // node before schedule() -> its line in the plan
  for (size_t i = 0; i < plan.nodes.size(); ++i)
    if (plan.nodes[i].source >= 0) scheduled[plan.nodes[i].source] = static_cast<int>(i);
  struct Seen {
    int count = 0;
    int first = -1;  // the first node's line in the plan
  };
  std::map<std::tuple<std::string_view, int, std::string_view>, Seen> groups;
  std::vector<const Decline*> order;
  for (const Decline& d : plan.declined) {
    Seen& s = groups[{op_name(d.op), d.device, d.reason}];
    if (s.count++ == 0) {
      s.first = scheduled.at(d.node);
      order.push_back(&d);
    }
  }
  std::string out;
  for (const Decline* d : order) {
    const Seen& s = groups[{op_name(d->op), d->device, d->reason}];
    out += fmt::format("declined: {} on {} ({} node{}, first {} {}): {}\n", op_name(d->op),
                       short_name(*backends[d->device]), s.count, s.count == 1 ? "" : "s", s.first,
                       g.info(g.nodes()[s.first].out).name, d->reason);
  }
  return out;
}

std::string format_host_weights(const Graph& g, const Plan& plan) {
  if (plan.host_weights.empty()) return "";
  constexpr size_t kNamed = 8;  // a large model keeps hundreds: name the first few
  std::string out = fmt::format("{} weights in host memory (the device ran out):", plan.host_weights.size());
  for (size_t i = 0; i < std::min(kNamed, plan.host_weights.size()); ++i)
    out += " " + g.info(plan.host_weights[i]).name;
  if (plan.host_weights.size() > kNamed)
    out += fmt::format(" and {} more", plan.host_weights.size() - kNamed);
  return out + "\n";
}

}  // namespace

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
  return out + format_declines(g, plan, backends) + format_host_weights(g, plan);
}

}  // namespace bluecl
