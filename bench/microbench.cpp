// Kernel microbenchmarks: every case of bench_cases() on the CPU backend and on the OpenCL device.
// Each is first checked against the exact CPU reference (NMSE under the case's threshold, no NaN/Inf), then
// timed: OpenCL kernels by event profiling, the CPU by wall time. Counters: GB/s, GFLOP/s, and the
// percentage of the device's measured read bandwidth and fp32 FMA rate. Decode GEMVs run `copies` instances
// on their own weights per iteration (96 MiB), so they read memory, not the last-level cache. JSON:
// --benchmark_format=json.
#include "backend/cl/cl_backend.h"
#include "backend/cl/cl_runtime.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/limits.h"
#include "bench/bench_cases.h"
#include "tests/cl_testing.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

namespace bluecl::bench {
namespace {

struct Env {
  std::unique_ptr<CpuBackend> cpu, reference;
  std::unique_ptr<ClBackend> cl;
  Limits host, device;
};

Env& env() {
  static Env e;
  return e;
}

void run_case(benchmark::State& st, const BenchCase& c, Backend* be, const Limits& lim) {
  testing::OpBuilder b(std::hash<std::string>{}(c.op.name));
  c.op.build(b);
  const Support s = be->supports(b.g, b.g.nodes().back());
  if (!s.ok) {
    st.SkipWithError(("declined: " + s.reason).c_str());
    return;
  }
  if (be == env().cl.get()) env().cl->runtime().precision_used = ClRuntime::Precision::Fp32;
  testing::PreparedOp p(*be, b, c.op.step);
  p.run();
  be->sync();
  const testing::OpRun got = p.result();
  if (got.non_finite > 0 || !got.guards_intact) {
    st.SkipWithError("NaN/Inf or an out-of-bounds write: not timed");
    return;
  }
  if (c.check_cpu) {
    const testing::OpRun ref = testing::run_op(*env().reference, b, c.op.step);
    const double e = nmse(got.out.data(), ref.out.data(), static_cast<int64_t>(ref.out.size()));
    // The CPU's fast path multiplies by 8-bit activations (as llama.cpp does): errors near 1e-5. Every
    // OpenCL kernel computes in fp32 and must match the exact reference to the case's threshold.
    const bool fast_cpu = be->kind() == DeviceKind::Cpu;
    double limit = fast_cpu ? 1e-4 : c.op.max_nmse;
    if (be == env().cl.get()) {
      // fp16 variants (forced, or chosen by the tuner) at the fp16 threshold of the op test.
      if (env().cl->runtime().precision_used == ClRuntime::Precision::Fp16) limit = std::max(limit, 3e-5);
      if (env().cl->runtime().precision_used == ClRuntime::Precision::Int8) limit = std::max(limit, 1e-4);
      env().cl->runtime().precision_used = ClRuntime::Precision::Fp32;
    }
    if (!(e <= limit)) {
      st.SkipWithError(fmt::format("wrong result (NMSE {:.3g}): not timed", e).c_str());
      return;
    }
  }
  // The other instances of a decode case, each on its own weights (checked like the first: same op).
  std::vector<std::unique_ptr<testing::OpBuilder>> more_b;
  std::vector<std::unique_ptr<testing::PreparedOp>> more;
  for (int i = 1; i < c.copies; ++i) {
    more_b.push_back(std::make_unique<testing::OpBuilder>(std::hash<std::string>{}(c.op.name) + i));
    c.op.build(*more_b.back());
    more.push_back(std::make_unique<testing::PreparedOp>(*be, *more_b.back(), c.op.step));
  }
  auto run_all = [&] {
    p.run();
    for (auto& o : more) o->run();
  };
  auto* cl = dynamic_cast<ClBackend*>(be);
  std::vector<cl::Event> events;
  double total = 0;
  for (auto _ : st) {
    double secs;
    if (cl) {
      events.clear();
      cl->runtime().events = &events;
      run_all();
      be->sync();
      cl->runtime().events = nullptr;
      secs = 0;
      for (cl::Event& ev : events)
        secs += (ev.getProfilingInfo<CL_PROFILING_COMMAND_END>() -
                 ev.getProfilingInfo<CL_PROFILING_COMMAND_START>()) *
                1e-9;
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      run_all();
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    st.SetIterationTime(secs);
    total += secs;
  }
  const double per = total / static_cast<double>(st.iterations());
  st.counters["GB/s"] = c.bytes / per / 1e9;
  st.counters["GFLOP/s"] = c.flops / per / 1e9;
  st.counters["%bw"] = 100.0 * c.bytes / per / 1e9 / lim.read_gbps;
  st.counters["%fma"] = 100.0 * c.flops / per / 1e9 / lim.fma_gflops;
  if (c.copies > 1) st.counters["copies"] = c.copies;
}

// Host time of one op's launches without the device: the dry launches of ClBackend::prepare do all the
// host work of a real one (variant choice, kernel lookup, arguments, the fit check) but enqueue nothing.
void run_host_overhead(benchmark::State& st, const BenchCase& c) {
  ClBackend& be = *env().cl;
  testing::OpBuilder b(std::hash<std::string>{}(c.op.name));
  c.op.build(b);
  testing::PreparedOp p(be, b, c.op.step);
  be.runtime().dry = true;
  for (auto _ : st) p.run();
  be.runtime().dry = false;
}

}  // namespace
}  // namespace bluecl::bench

int main(int argc, char** argv) {
  using namespace bluecl;
  using namespace bluecl::bench;
  benchmark::Initialize(&argc, argv);
  Env& e = env();
  e.cpu = std::make_unique<CpuBackend>(0);
  e.reference = std::make_unique<CpuBackend>(0, CpuPrecision::Reference);
  std::fprintf(stderr, "measuring limits...\n");
  e.host = measure_host_limits();
  benchmark::AddCustomContext("host_read_gbps", fmt::format("{:.1f}", e.host.read_gbps));
  benchmark::AddCustomContext("host_fma_gflops", fmt::format("{:.0f}", e.host.fma_gflops));
  if (const auto& dev = testing::cl_device()) {
    e.cl = std::make_unique<ClBackend>(*dev, ClBackendOptions{.profiling = true});
    e.device = measure_cl_limits(*e.cl);
    benchmark::AddCustomContext("device", e.device.device);
    benchmark::AddCustomContext("device_read_gbps", fmt::format("{:.1f}", e.device.read_gbps));
    benchmark::AddCustomContext("device_fma_gflops", fmt::format("{:.0f}", e.device.fma_gflops));
  }
  static const std::vector<BenchCase> cases = bench_cases();
  for (const BenchCase& c : cases) {
    benchmark::RegisterBenchmark(("cpu/" + c.op.name).c_str(),
                                 [&c, &e](benchmark::State& st) { run_case(st, c, e.cpu.get(), e.host); })
        ->UseManualTime()
        ->MinTime(0.3)
        ->Unit(benchmark::kMillisecond);
    if (e.cl)
      benchmark::RegisterBenchmark(("cl/" + c.op.name).c_str(),
                                   [&c, &e](benchmark::State& st) { run_case(st, c, e.cl.get(), e.device); })
          ->UseManualTime()
          ->MinTime(0.3)
          ->Unit(benchmark::kMillisecond);
  }
  if (e.cl)
    for (const BenchCase& c : cases)
      if (c.op.name.find("/M1/") != std::string::npos || c.op.name.find("/M1") + 3 == c.op.name.size() ||
          c.op.name.starts_with("attention/decode"))
        benchmark::RegisterBenchmark(("host/" + c.op.name).c_str(), [&c](benchmark::State& st) {
          run_host_overhead(st, c);
        })->Unit(benchmark::kMicrosecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
