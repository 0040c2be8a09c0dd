#include "host/runtime/devices.h"

#include "backend/cache_dir.h"
#include "graph/base/error.h"
#include "graph/base/log.h"
#include "graph/base/parse.h"

#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <set>

namespace bluecl {

Devices::Devices(const DeviceOptions& opts)
    : cpu_(std::make_unique<CpuBackend>(opts.n_threads, opts.cpu_precision)) {
  list_.push_back(cpu_.get());
  sched_.pins = parse_pins(opts.pins);
  // --device wins over BLUECL_DEVICE; both mean the same: "cpu" for the CPU alone, an index or a name
  // that must match (no silent fallback), nothing for the first GPU, else the first device, else the CPU.
  std::string spec = opts.device;
  const char* source = "--device";
  if (spec.empty())
    if (auto env = env_text("BLUECL_DEVICE")) {
      spec = *env;
      source = "BLUECL_DEVICE";
    }
  if (spec != "cpu") {
    std::string why;
    std::optional<ClDeviceInfo> dev = select_cl_device(spec, &why);
    if (dev) {
      cl_ = std::make_unique<ClBackend>(
          *dev, ClBackendOptions{.profiling = opts.profiling, .decline = opts.decline});
      list_.push_back(cl_.get());
      log(LogLevel::Info, "devices", "OpenCL device: {} ({})", dev->features.device_name,
          dev->features.platform_name);
    } else if (!spec.empty()) {
      // The user asked for a particular device: not finding it is an error, not a silent fallback.
      fail(Status::Device, "{} {}: {}", source, spec, why);
    } else {
      log(LogLevel::Warn, "devices", "{}; running every op on the CPU", why);
    }
  }
  std::string placement = opts.placement;
  if (placement.empty()) {
    const char* env = std::getenv("BLUECL_PLACEMENT");
    placement = env && *env ? env : "cost";
  }
  if (placement != "cost" && placement != "device")
    fail(Status::InvalidArgument, "placement '{}': use cost or device", placement);
  if (placement == "cost" && list_.size() > 1) {
    const std::string dir = cache_dir();
    for (Backend* b : list_) sched_.costs.push_back(calibrate(*b, dir));
  }
}

namespace {

// Prepares every node's kernels once; the nodes whose preparation failed (a kernel that does not build,
// a launch the device cannot fit) as declines of the graph as it was before schedule().
std::vector<Decline> prepare_kernels(const Graph& g, const Plan& plan, Executor& ex,
                                     const Executor::Progress& progress) {
  std::vector<Decline> out;
  for (const Executor::Failure& f : ex.prepare(progress)) {
    const Placement& p = plan.nodes[f.node];
    BLUECL_ASSERT(p.device != 0 && p.source >= 0, "a preparation failure on the CPU: {}", f.what);
    const std::string first_line = f.what.substr(0, f.what.find('\n'));
    out.push_back({p.source, g.nodes()[f.node].kind, p.device,
                   fmt::format("its kernel failed to build or fit: {}", first_line)});
  }
  return out;
}

}  // namespace

ScheduleOptions Devices::options_for(const PrepareCallbacks& cb, const std::vector<Decline>& declined) const {
  ScheduleOptions opts = sched_;
  opts.pins.insert(opts.pins.begin(), cb.pins.begin(), cb.pins.end());
  if (cb.state_device >= 0) opts.state_device = cb.state_device;
  opts.declined = declined;
  return opts;
}

bool Devices::build_executor(const Graph& g, Prepared& p, const PrepareCallbacks& cb) {
  try {
    p.ex = std::make_unique<Executor>(g, p.plan, list_, cb.weights, release_host_pages);
    if (cb.bind) cb.bind(*p.ex);
    return true;
  } catch (const Error& e) {
    if (e.status() != Status::OutOfMemory || !cl_ || sched_.preferred == 0) throw;
    p.ex.reset();
    give_up_memory(g, e.what());
    return false;
  }
}

Devices::Prepared Devices::prepare(Graph& g, const PrepareCallbacks& cb) {
  // Rounds, each a schedule of g from its unscheduled form, its executor, and one preparation of every
  // node. Running out of device memory gives up one level (give_up_memory: the weights not on the
  // device stay in host memory, then the KV cache moves, then every op runs on the CPU; past that the
  // error stands). Nodes whose kernels fail at prepare become declines of this graph (recorded in its
  // plan, the backends untouched): the next round places them elsewhere, and what depends on where they
  // run (state groups, merged runs, transfers) is placed again with them. Every round that does not
  // return adds a memory level or a (node, device) decline that no earlier round had, so the rounds are
  // bounded by 3 + nodes x devices; one preparation finds every failing node, so in practice it is two.
  const Graph pristine = g;
  std::vector<Decline> declined;
  std::set<OpKind> warned;
  for (;;) {
    g = pristine;
    Prepared p;
    p.plan = schedule(g, list_, options_for(cb, declined));
    if (!build_executor(g, p, cb)) continue;
    const std::vector<Decline> fresh = prepare_kernels(g, p.plan, *p.ex, cb.kernels);
    if (fresh.empty()) {
      if (release_host_pages) release_device_only_weights(g, p.plan);
      return p;
    }
    for (const Decline& d : fresh) {
      for (const Decline& old : declined)
        BLUECL_ASSERT(old.node != d.node || old.device != d.device,
                      "node {} was placed on a device that declined it", d.node);
      if (warned.insert(d.op).second)
        log(LogLevel::Warn, "devices", "{}: {}; this graph runs it on the CPU", op_name(d.op), d.reason);
      declined.push_back(d);
    }
  }
}

void Devices::release_device_only_weights(const Graph& g, const Plan& plan) {
  std::map<const void*, bool> cpu_reads;  // weight -> read by a CPU node in this graph
  for (size_t i = 0; i < g.nodes().size(); ++i)
    for (int k = 0; k < g.nodes()[i].n_src; ++k) {
      const TensorInfo& t = g.info(g.nodes()[i].src[k]);
      if (t.kind == TensorKind::Weight) cpu_reads[t.data] |= plan.nodes[i].device == 0;
    }
  for (const TensorInfo& t : g.tensors())
    if (t.kind == TensorKind::Weight && !cpu_reads[t.data]) release_host_pages(t.data, t.bytes());
}

void Devices::give_up_memory(const Graph& g, const std::string& what) {
  // First the weights not on the device yet stay in host memory, then the state (KV caches) too, and
  // last everything runs on the CPU.
  size_t n = 0;
  for (const TensorInfo& t : g.tensors())
    if (t.kind == TensorKind::Weight && !cl_->has_weight(t.data) && sched_.host_weights.insert(t.data).second)
      ++n;
  if (n > 0) {
    log(LogLevel::Warn, "devices", "{}: keeping {} weights in host memory; their ops run on the CPU", what,
        n);
  } else if (!sched_.states_on_host) {
    sched_.states_on_host = true;
    log(LogLevel::Warn, "devices", "{}: the KV cache and its ops move to the CPU", what);
  } else {
    sched_.preferred = 0;
    log(LogLevel::Warn, "devices", "{}: running every op on the CPU", what);
  }
}

void Devices::release_weight(const void* host_data) {
  for (Backend* b : list_) b->release_weight(host_data);
}

}  // namespace bluecl
