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

Devices::Prepared Devices::prepare(Graph& g, const PrepareCallbacks& cb) {
  const Graph pristine = g;
  std::set<OpKind> warned;
  for (int attempt = 0;; ++attempt) {
    BLUECL_ASSERT(attempt < 2 * kNumOps + 4, "placement did not settle after {} attempts", attempt);
    g = pristine;
    Prepared p;
    ScheduleOptions opts = sched_;
    opts.pins.insert(opts.pins.begin(), cb.pins.begin(), cb.pins.end());
    if (cb.state_device >= 0) opts.state_device = cb.state_device;
    p.plan = schedule(g, list_, opts);
    try {
      p.ex = std::make_unique<Executor>(g, p.plan, list_, cb.weights, release_host_pages);
      if (cb.bind) cb.bind(*p.ex);
    } catch (const Error& e) {
      if (e.status() != Status::OutOfMemory || !cl_ || sched_.preferred == 0) throw;
      give_up_memory(g, e.what());
      continue;
    }
    const std::vector<Executor::Failure> failed = p.ex->prepare(cb.kernels);
    if (failed.empty()) {
      if (release_host_pages) release_device_only_weights(g, p.plan);
      return p;
    }
    for (const Executor::Failure& f : failed) {
      const Node& n = g.nodes()[f.node];
      const std::string first_line = f.what.substr(0, f.what.find('\n'));
      BLUECL_ASSERT(cl_, "a preparation failure without an OpenCL device: {}", f.what);
      if (warned.insert(n.kind).second)
        log(LogLevel::Warn, "devices", "{}: {}; it runs on the CPU from now on", op_name(n.kind), first_line);
      cl_->decline(n.kind, fmt::format("its kernel failed to build: {}", first_line));
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
