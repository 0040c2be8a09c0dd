#include "host/runtime/executor.h"

#include "backend/cpu/cpu_backend.h"
#include "graph/base/error.h"
#include "graph/base/log.h"
#include "graph/planner.h"
#include "host/runtime/profile.h"

#include <chrono>
#include <set>

namespace bluecl {

Executor::Executor(const Graph& g, const Plan& plan, std::vector<Backend*> backends, const Progress& progress,
                   const Release& release)
    : g_(g), plan_(plan), backends_(std::move(backends)) {
  const auto& nodes = g.nodes();
  const auto& tensors = g.tensors();
  const int n_dev = static_cast<int>(backends_.size());
  BLUECL_ASSERT(plan.nodes.size() == nodes.size(), "plan for {} nodes, graph has {}", plan.nodes.size(),
                nodes.size());
  refs_.assign(n_dev, std::vector<TensorRef>(tensors.size()));
  home_.assign(tensors.size(), -1);
  input_devices_.assign(tensors.size(), {});
  arena_bytes_.assign(n_dev, 0);

  for (size_t t = 0; t < tensors.size(); ++t)
    if (tensors[t].kind == TensorKind::Intermediate) home_[t] = plan.nodes[tensors[t].producer].device;

  // Intermediates: one arena per device.
  for (int d = 0; d < n_dev; ++d) {
    MemoryPlan mp = plan_memory(g, backends_[d]->alignment(), [&](TensorId t) { return home_[t] == d; });
    arena_bytes_[d] = mp.arena_bytes;
    if (mp.arena_bytes == 0) continue;
    owned_.push_back(backends_[d]->alloc(mp.arena_bytes, "activations"));
    for (size_t t = 0; t < tensors.size(); ++t)
      if (home_[t] == d) refs_[d][t] = TensorRef{owned_.back().get(), mp.offset[t]};
  }

  // Leaves: weights prepared and inputs allocated on every device that reads them.
  size_t n_weights = 0, done = 0;
  std::vector<bool> cpu_reads(tensors.size(), false);  // [tensor]: a CPU node reads this weight
  for (size_t i = 0; i < nodes.size(); ++i)
    for (int s = 0; s < nodes[i].n_src; ++s) {
      const TensorId b = g.base_of(nodes[i].src[s]);
      n_weights += tensors[b].kind == TensorKind::Weight;
      if (backends_[plan.nodes[i].device]->kind() == DeviceKind::Cpu) cpu_reads[b] = true;
    }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const int d = plan.nodes[i].device;
    const Node& n = nodes[i];
    if (n.kind == OpKind::Transfer) continue;  // its source is read on the producer's device
    for (int s = 0; s < n.n_src; ++s) {
      const TensorId b = g.base_of(n.src[s]);
      const TensorInfo& bi = tensors[b];
      if (refs_[d][b]) continue;
      if (bi.kind == TensorKind::Weight) {
        refs_[d][b] = backends_[d]->weight(bi);
        if (release && !cpu_reads[b] && backends_[d]->kind() != DeviceKind::Cpu) release(bi.data, bi.bytes());
        if (progress) progress(++done, n_weights);
      } else if (bi.kind == TensorKind::Input) {
        owned_.push_back(backends_[d]->alloc(bi.bytes(), bi.name));
        refs_[d][b] = TensorRef{owned_.back().get(), 0};
        input_devices_[b].push_back(d);
      }
    }
  }
  // The launch table (each node's resolved refs) is built on the first run, after states are bound.
}

TensorRef Executor::ref(int device, TensorId t) const {
  const TensorInfo& ti = g_.info(t);
  const TensorId b = g_.base_of(t);
  TensorRef r = refs_[device][b];
  if (!r) return r;
  if (ti.kind == TensorKind::View) r.offset += ti.view_offset;
  return r;
}

int Executor::state_device(Tensor t) const {
  for (size_t i = 0; i < g_.nodes().size(); ++i) {
    const Node& n = g_.nodes()[i];
    for (int s = 0; s < n.n_src; ++s)
      if (g_.base_of(n.src[s]) == t.id) return plan_.nodes[i].device;
  }
  return -1;
}

void Executor::bind_state(Tensor t, TensorRef where) {
  BLUECL_ASSERT(g_.info(t).kind == TensorKind::State, "{} is not a state tensor", g_.info(t).name);
  const int d = state_device(t);
  if (d >= 0) refs_[d][t.id] = where;
  launches_.clear();  // resolved again on the next run
}

void Executor::set_input(Tensor t, const void* data, size_t bytes) {
  const TensorInfo& ti = g_.info(t);
  BLUECL_ASSERT(ti.kind == TensorKind::Input && bytes == ti.bytes(), "set_input {}: {} bytes for {}", ti.name,
                bytes, ti.bytes());
  try {
    for (int d : input_devices_[t.id]) backends_[d]->write(refs_[d][t.id], data, bytes);
  } catch (...) {
    drain();
    throw;
  }
}

void Executor::transfer(const Node& n, int to) {
  const TensorId src = n.src[0];
  const int from = home_[g_.base_of(src)];
  const size_t bytes = g_.info(src).bytes();
  const TensorRef s = ref(from, src), d = ref(to, n.out);
  Backend& bf = *backends_[from];
  Backend& bt = *backends_[to];
  // Through host memory; a CPU side is used directly, so only device-to-device needs a staging copy.
  if (bt.kind() == DeviceKind::Cpu) {
    bf.read(s, static_cast<char*>(CpuBackend::host_ptr(d)), bytes);
  } else if (bf.kind() == DeviceKind::Cpu) {
    bt.write(d, CpuBackend::host_ptr(s), bytes);
  } else {
    staging_.resize(bytes);
    bf.read(s, staging_.data(), bytes);
    bt.write(d, staging_.data(), bytes);
  }
}

void Executor::resolve() {
  // Every node's refs, once: views become base + offset.
  const auto& nodes = g_.nodes();
  launches_.resize(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    Launch& l = launches_[i];
    l.device = plan_.nodes[i].device;
    if (nodes[i].kind == OpKind::Transfer) continue;
    for (int s = 0; s < nodes[i].n_src; ++s) {
      l.src.push_back(ref(l.device, nodes[i].src[s]));
      BLUECL_ASSERT(l.src.back(), "{} has no memory on {} (unbound state?)", g_.info(nodes[i].src[s]).name,
                    backends_[l.device]->name());
    }
    l.dst = ref(l.device, nodes[i].out);
  }
}

std::vector<Executor::Failure> Executor::prepare(const Progress& progress) {
  if (launches_.empty()) resolve();
  const auto& nodes = g_.nodes();
  std::vector<Failure> failed;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].kind != OpKind::Transfer) {
      try {
        backends_[launches_[i].device]->prepare(g_, nodes[i], launches_[i].src, launches_[i].dst);
      } catch (const Error& e) {
        if (e.status() != Status::Device) throw;
        failed.push_back({static_cast<int>(i), e.what()});
      }
    }
    if (progress) progress(i + 1, nodes.size());
  }
  return failed;
}

void Executor::run(const Step& step) {
  if (launches_.empty()) resolve();
  try {
    if (OpProfile::get().on()) return run_profiled(step);
    const auto& nodes = g_.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Launch& l = launches_[i];
      if (nodes[i].kind == OpKind::Transfer)
        transfer(nodes[i], l.device);
      else
        backends_[l.device]->run(g_, nodes[i], l.src, l.dst, step);
    }
  } catch (...) {
    drain();
    throw;
  }
}

void Executor::drain() const noexcept {
  // After a failed call the nodes enqueued before it may still be running; once this returns none is,
  // so the caller may discard what the step wrote (see Session's rollback) or free the memory. A device
  // that fails again here has no more to say than the first error.
  for (Backend* b : backends_) {
    try {
      b->sync();
    } catch (const std::exception& e) {
      log(LogLevel::Debug, "executor", "waiting for {} after a failure: {}", b->name(), e.what());
    }
  }
}

// As run(), waiting for each node so that its time is its own (see OpProfile).
void Executor::run_profiled(const Step& step) {
  using Clock = std::chrono::steady_clock;
  std::vector<std::string> names;
  for (Backend* b : backends_) names.push_back(b->name().substr(0, b->name().find(" (")));
  sync();
  const auto& nodes = g_.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Launch& l = launches_[i];
    const auto t0 = Clock::now();
    if (nodes[i].kind == OpKind::Transfer) {
      transfer(nodes[i], l.device);
      sync();
    } else {
      backends_[l.device]->run(g_, nodes[i], l.src, l.dst, step);
      backends_[l.device]->sync();
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    OpProfile::get().record(g_.info(nodes[i].out).name, op_name(nodes[i].kind), names[l.device], s);
  }
  OpProfile::get().step();
}

void Executor::read(Tensor t, void* dst, size_t bytes) const {
  const TensorId b = g_.base_of(t.id);
  const int d = g_.info(b).kind == TensorKind::Intermediate ? home_[b] : state_device(Tensor{b});
  BLUECL_ASSERT(d >= 0, "{} lives on no device", g_.info(t).name);
  BLUECL_ASSERT(bytes <= g_.info(t).bytes(), "read of {} bytes from {}", bytes, g_.info(t).name);
  try {
    backends_[d]->read(ref(d, t.id), dst, bytes);
  } catch (...) {
    drain();
    throw;
  }
}

void Executor::sync() {
  for (Backend* b : backends_) b->sync();
}

}  // namespace bluecl
