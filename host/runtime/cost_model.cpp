#include "host/runtime/cost_model.h"

#include "backend/cl/cl_backend.h"
#include "backend/cl/cl_runtime.h"
#include "graph/base/atomic_file.h"
#include "graph/base/error.h"
#include "graph/base/hash.h"
#include "graph/base/log.h"
#include "graph/base/random_fill.h"
#include "host/runtime/executor.h"
#include "host/util/json.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace bluecl {

namespace {

// Part of every cache key: a new format or bluecl version measures again (kernels change between versions).
constexpr const char* kFormat = "bluecl-costs-2 v0.1.0";

CostClass matmul_class(DType t, bool gemv) {
  switch (t) {
    case DType::Q4_0:
      return gemv ? CostClass::GemvQ4 : CostClass::GemmQ4;
    case DType::Q8_0:
      return gemv ? CostClass::GemvQ8 : CostClass::GemmQ8;
    case DType::F16:
      return gemv ? CostClass::GemvF16 : CostClass::GemmF16;
    case DType::F32:
    case DType::I32:
      break;
  }
  return gemv ? CostClass::GemvF32 : CostClass::GemmF32;
}

bool is_flop_class(CostClass c) {
  return c == CostClass::GemmQ4 || c == CostClass::GemmQ8 || c == CostClass::GemmF16 ||
         c == CostClass::GemmF32 || c == CostClass::Attention;
}

}  // namespace

OpWork op_work(const Graph& g, const Node& n) {
  OpWork w;
  for (int i = 0; i < n.n_src; ++i) w.bytes += static_cast<double>(g.info(n.src[i]).bytes());
  const TensorInfo& out = g.info(n.out);
  w.cls = CostClass::Memory;
  switch (op_info(n.kind).work) {  // the `work` column of graph/ops.def
    case WorkRule::Memory:         // reads its inputs, writes its output
      w.bytes += static_cast<double>(out.bytes());
      break;
    case WorkRule::Linear: {  // x[.., K] times each matrix [N, K] from input 1 on (a bias is a vector)
      w.bytes += static_cast<double>(out.bytes());
      const Shape& x = g.info(n.src[0]).shape;
      const TensorInfo& wt = g.info(n.src[1]);
      const double M = static_cast<double>(x.rows()), K = static_cast<double>(x.last());
      for (int i = 1; i < n.n_src; ++i)
        if (const Shape& s = g.info(n.src[i]).shape; s.rank == 2 && s[1] == x.last())
          w.flops += 2.0 * M * K * static_cast<double>(s[0]);
      w.cls = matmul_class(wt.dtype, M <= 4);
      break;
    }
    case WorkRule::Attention: {
      const Shape& q = g.info(n.src[0]).shape;
      const TensorInfo& k = g.info(n.src[1]);
      // With a cache, on average half of it is in use.
      const double frac = n.a<AttentionAttr>().kv_cache ? 0.5 : 1.0;
      const double n_kv = static_cast<double>(k.shape[1]) * frac;
      w.flops = 4.0 * q[0] * q[1] * q[2] * q[3] * n_kv;
      w.bytes = 2.0 * static_cast<double>(k.bytes()) * frac + 2.0 * g.info(n.src[0]).bytes();
      w.cls = CostClass::Attention;
      break;
    }
    case WorkRule::Gather: {  // only the rows asked for are read
      const TensorInfo& t = g.info(n.src[0]);
      w.bytes = static_cast<double>(g.info(n.src[1]).bytes() +
                                    g.info(n.src[1]).shape.numel() * t.row_bytes() + out.bytes());
      break;
    }
    case WorkRule::CacheWrite: {  // the chunk's rows are read and written; the rest of the cache is untouched
      const TensorInfo& src = g.info(n.src[0]);
      const TensorInfo& cache = g.info(n.src[1]);
      w.bytes = static_cast<double>(src.bytes() + dtype_bytes(cache.dtype, src.shape.numel()));
      break;
    }
  }
  return w;
}

double estimate_seconds(const DeviceCosts& c, const OpWork& w) {
  const double rate = c.rate[static_cast<int>(w.cls)];
  double t = is_flop_class(w.cls) ? w.flops / rate : w.bytes / rate;
  if (w.cls == CostClass::Attention) t = std::max(t, w.bytes / c.rate[static_cast<int>(CostClass::Memory)]);
  return c.launch_s + t;
}

double transfer_seconds(const DeviceCosts& a, const DeviceCosts& b, size_t bytes) {
  double t = 0;
  if (a.to_host_bps > 0) t += a.transfer_latency_s + bytes / a.to_host_bps;  // a is a device: read it back
  if (b.from_host_bps > 0) t += b.transfer_latency_s + bytes / b.from_host_bps;  // b is a device: write to it
  return t;
}

namespace {

// One op on one backend, with random leaves, ready to time.
class Probe {
 public:
  Probe(Backend& be, std::unique_ptr<Graph> g) : be_(be), g_(std::move(g)) {
    uint64_t seed = 1;
    Plan plan;
    plan.nodes.assign(g_->nodes().size(), Placement{0, "calibration"});
    for (const TensorInfo& t : g_->tensors()) {
      if (t.kind != TensorKind::Input) continue;
      std::vector<uint8_t>& d = host_[&t - g_->tensors().data()];
      d.resize(t.bytes());
      if (t.dtype == DType::I32) {
        std::fill(d.begin(), d.end(), 0);
      } else {
        const std::vector<float> v = random_floats(d.size() / 4, seed++);
        std::memcpy(d.data(), v.data(), v.size() * 4);
      }
    }
    ex_ = std::make_unique<Executor>(*g_, plan, std::vector<Backend*>{&be});
    for (const TensorInfo& t : g_->tensors())
      if (t.kind == TensorKind::State) {
        states_.push_back(be.alloc(t.bytes(), t.name));
        be.fill(TensorRef{states_.back().get(), 0}, 0, t.bytes());
        ex_->bind_state(Tensor{static_cast<TensorId>(&t - g_->tensors().data())},
                        TensorRef{states_.back().get(), 0});
      }
    for (auto& [id, d] : host_) ex_->set_input(Tensor{static_cast<TensorId>(id)}, d.data(), d.size());
  }
  ~Probe() {
    for (const TensorInfo& t : g_->tensors())
      if (t.kind == TensorKind::Weight) be_.release_weight(t.data);
  }
  // Best of `reps` timed runs after one untimed run (kernel compilation, first touch).
  double seconds(int reps, const Step& step = {}) {
    ex_->run(step);
    be_.sync();
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      ex_->run(step);
      be_.sync();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  }
  const Graph& graph() const { return *g_; }

 private:
  Backend& be_;
  std::unique_ptr<Graph> g_;
  std::map<size_t, std::vector<uint8_t>> host_;
  std::vector<std::unique_ptr<DeviceBuffer>> states_;
  std::unique_ptr<Executor> ex_;
};

// A weight of random values stored as `t`, kept alive by `keep`.
Tensor random_weight(Graph& g, DType t, Shape s, std::vector<std::vector<uint8_t>>& keep) {
  const std::vector<float> w = random_floats(s.numel(), 7, -0.05f, 0.05f);
  keep.emplace_back(dtype_bytes(t, s.numel()));
  for (int64_t r = 0; r < s.rows(); ++r)
    quantize_row(t, w.data() + r * s.last(), keep.back().data() + dtype_bytes(t, r * s.last()), s.last());
  return g.weight("w", t, s, keep.back().data());
}

double measure(Backend& be, CostClass c, std::vector<std::vector<uint8_t>>& keep) {
  auto g = std::make_unique<Graph>();
  OpWork w;
  Step step;
  switch (c) {
    case CostClass::GemvQ4:
    case CostClass::GemvQ8:
    case CostClass::GemvF16:
    case CostClass::GemvF32:
    case CostClass::GemmQ4:
    case CostClass::GemmQ8:
    case CostClass::GemmF16:
    case CostClass::GemmF32: {
      static constexpr DType types[] = {DType::Q4_0, DType::Q8_0, DType::F16, DType::F32};
      const int i = static_cast<int>(c);
      const DType t = types[i % 4];
      const bool gemv = i < 4;
      // GEMV weights of ~16 MiB (bigger than caches: streaming); GEMM reuses each weight over 64 rows.
      const int64_t K = gemv ? 4096 : 1024,
                    N = gemv ? static_cast<int64_t>((16 << 20) / dtype_bytes(t, K)) : 1024;
      g->matmul(g->input("x", DType::F32, {gemv ? 1 : 64, K}), random_weight(*g, t, {N, K}, keep));
      break;
    }
    case CostClass::Attention: {
      Tensor kc = g->state("k", DType::F16, {512, 8, 64}), vc = g->state("v", DType::F16, {512, 8, 64});
      g->attention(g->input("q", DType::F32, {1, 32, 8, 64}), g->reshape(kc, {1, 512, 8, 64}),
                   g->reshape(vc, {1, 512, 8, 64}), {.scale = 0.125f, .causal = true, .kv_cache = true});
      step.n_past = 512 - 32;
      break;
    }
    case CostClass::Memory: {
      Tensor a = g->input("a", DType::F32, {1024, 4096});
      g->add(a, g->input("b", DType::F32, {1024, 4096}));
      break;
    }
    case CostClass::Count_:
      break;
  }
  w = op_work(*g, g->nodes().back());
  if (c == CostClass::Attention) w.flops = 4.0 * 32 * 8 * 64 * 512;  // the whole cache is used here
  Probe p(be, std::move(g));
  const double t = p.seconds(3, step);
  return (is_flop_class(c) ? w.flops : w.bytes) / t;
}

std::string cost_key(Backend& be) {
  std::string key = fmt::format("{} {}", kFormat, be.name());
  if (auto* cl = dynamic_cast<ClBackend*>(&be)) {
    key += " driver " + cl->features().driver_version;
    // Tuned launches change the kernels' speed: a new tuning measures again.
    for (const auto& [k, l] : cl->runtime().tuning.choices()) key += fmt::format(" {}={}", k.str(), l.str());
  }
  return key;
}

DeviceCosts measure_all(Backend& be) {
  DeviceCosts c;
  c.key = cost_key(be);
  std::vector<std::vector<uint8_t>> keep;
  for (int i = 0; i < kNumCostClasses; ++i) c.rate[i] = measure(be, static_cast<CostClass>(i), keep);
  {  // launch overhead: a tiny op
    auto g = std::make_unique<Graph>();
    g->scale(g->input("x", DType::F32, {1, 16}), 2.0f);
    Probe p(be, std::move(g));
    c.launch_s = p.seconds(20);
  }
  if (be.kind() != DeviceKind::Cpu) {
    const size_t n = 8 << 20;
    std::vector<uint8_t> host(n);
    auto buf = be.alloc(n, "transfer probe");
    auto time = [&](auto&& f) {
      f();
      double best = 1e30;
      for (int r = 0; r < 3; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      return best;
    };
    c.from_host_bps = n / time([&] { be.write(TensorRef{buf.get(), 0}, host.data(), n); });
    c.to_host_bps = n / time([&] { be.read(TensorRef{buf.get(), 0}, host.data(), n); });
    c.transfer_latency_s = time([&] { be.read(TensorRef{buf.get(), 0}, host.data(), 64); });
  }
  return c;
}

Json to_json_costs(const DeviceCosts& c) {
  Json rate = Json::array();
  for (double r : c.rate) rate.push_back(r);
  return Json::object()
      .set("key", c.key)
      .set("rate", rate)
      .set("launch_s", c.launch_s)
      .set("to_host_bps", c.to_host_bps)
      .set("from_host_bps", c.from_host_bps)
      .set("transfer_latency_s", c.transfer_latency_s);
}

bool from_json_costs(const Json& j, DeviceCosts& c) {
  if (!j.is_object() || !j.contains("rate") || j.at("rate").size() != kNumCostClasses) return false;
  c.key = j.at("key").as_string();
  for (int i = 0; i < kNumCostClasses; ++i) c.rate[i] = j.at("rate").at(static_cast<size_t>(i)).as_number();
  c.launch_s = j.at("launch_s").as_number();
  c.to_host_bps = j.at("to_host_bps").as_number();
  c.from_host_bps = j.at("from_host_bps").as_number();
  c.transfer_latency_s = j.at("transfer_latency_s").as_number();
  return std::all_of(c.rate.begin(), c.rate.end(), [](double r) { return r > 0; });
}

}  // namespace

DeviceCosts calibrate(Backend& be, const std::string& cache_dir) {
  const std::string key = cost_key(be);
  const std::filesystem::path file =
      cache_dir.empty() ? std::filesystem::path()
                        : std::filesystem::path(cache_dir) / ("costs-" + hash128(key).hex() + ".json");
  if (!file.empty()) {
    std::ifstream f(file);
    if (f) {
      try {
        DeviceCosts c;
        if (from_json_costs(parse_json(std::string(std::istreambuf_iterator<char>(f), {})), c) &&
            c.key == key)
          return c;
      } catch (const Error&) {
        // A damaged cache file is measured again.
      }
    }
  }
  log(LogLevel::Info, "cost", "calibrating {} (once; cached)", be.name());
  const auto t0 = std::chrono::steady_clock::now();
  DeviceCosts c = measure_all(be);
  log(LogLevel::Info, "cost",
      "{}: GEMV q4_0 {:.1f} GB/s, GEMM q4_0 {:.1f} GFLOP/s, memory {:.1f} GB/s, launch {:.1f} us ({:.1f} s)",
      be.name(), c.rate[0] / 1e9, c.rate[4] / 1e9, c.rate[static_cast<int>(CostClass::Memory)] / 1e9,
      c.launch_s * 1e6, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!file.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    try {
      write_file_atomic(file, to_json(to_json_costs(c), 2));  // two processes may calibrate at once
    } catch (const Error& e) {
      log(LogLevel::Warn, "cost", "calibration not cached: {}", e.what());
    }
  }
  return c;
}

}  // namespace bluecl
