// bluecl bench: measured limits (--limits) and, with -m, a llama-bench-style run of a model: load time
// (cold and with the kernel cache warm), prefill tok/s at several chunk sizes, decode tok/s, peak memory;
// each as a median over repetitions with its spread, beside the limit it is bounded by. Markdown table,
// or JSON with --json.
#include "graph/base/parse.h"
#include "host/util/json.h"
#include "tools/bench_common.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <sys/resource.h>

namespace bluecl::cli {

namespace {

struct Bench {
  std::string model, device;
  int64_t threads = 0, n_prompt = 2048, n_decode = 32, reps = 3;
  std::vector<int64_t> chunks{32, 128, 512, 2048};
  std::string kv, mmproj;
  double typing_s = 2.0;
  bool json = false, profile = false;
};

ModelPtr load(const Bench& b) {
  bluecl_model_params p = bluecl_model_default_params();
  p.device = b.device.c_str();
  p.n_threads = static_cast<int32_t>(b.threads);
  bluecl_model* m = nullptr;
  check(bluecl_model_load(b.model.c_str(), &p, &m), "loading the model");
  return ModelPtr(m);
}

SessionPtr session(bluecl_model* m, const Bench& b, int64_t chunk) {
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_ctx = static_cast<int32_t>(b.n_prompt + b.n_decode);
  sp.n_chunk = static_cast<int32_t>(chunk);
  sp.kv_type = b.kv == "f32"    ? BLUECL_KV_F32
               : b.kv == "f16"  ? BLUECL_KV_F16
               : b.kv == "q8_0" ? BLUECL_KV_Q8_0
                                : BLUECL_KV_DEFAULT;
  bluecl_session* s = nullptr;
  check(bluecl_session_create(m, &sp, &s), "creating a session");
  return SessionPtr(s);
}

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    v.push_back(parse_int("--chunks", item, 1, 1 << 20));
  }
  return v;
}

// The share of a limit a row reaches: bandwidth for bytes, the FMA rate for FLOPs; -1 if none applies.
double pct_of(const Row& r, const bluecl_limits& l) {
  if (r.bytes_per_unit > 0 && l.read_gbps > 0)
    return 100.0 * r.median() * r.bytes_per_unit / (l.read_gbps * 1e9);
  if (r.flops_per_unit > 0 && l.fma_gflops > 0)
    return 100.0 * r.median() * r.flops_per_unit / (l.fma_gflops * 1e9);
  return -1;
}

std::string pct_text(double p) {
  return p < 0 ? "-" : std::to_string(static_cast<int>(p + 0.5)) + "%";
}

void print_rows(const std::vector<Row>& rows, const bluecl_limits& host, const bluecl_limits* dev) {
  std::printf("| test | median | unit | spread (min..max) | reps | bound by | %% of host limit |%s\n",
              dev ? " % of device limit |" : "");
  std::printf("|---|---:|---|---|---:|---|---:|%s\n", dev ? "---:|" : "");
  for (const Row& r : rows) {
    const auto [lo, hi] = std::minmax_element(r.values.begin(), r.values.end());
    const char* bound = r.bytes_per_unit > 0   ? "read bandwidth"
                        : r.flops_per_unit > 0 ? "fp32 FMA rate"
                                               : "-";
    std::printf("| %s | %.2f | %s | %.2f..%.2f | %zu | %s | %s |", r.test.c_str(), r.median(), r.unit.c_str(),
                *lo, *hi, r.values.size(), bound, pct_text(pct_of(r, host)).c_str());
    if (dev) std::printf(" %s |", pct_text(pct_of(r, *dev)).c_str());
    std::printf("\n");
  }
}

Json rows_json(const std::vector<Row>& rows, const bluecl_limits& host, const bluecl_limits* dev) {
  Json a = Json::array();
  for (const Row& r : rows) {
    Json o = Json::object();
    Json vals = Json::array();
    for (double v : r.values) vals.push_back(v);
    o.set("test", r.test).set("unit", r.unit).set("median", r.median()).set("values", vals);
    if (pct_of(r, host) >= 0) o.set("pct_of_host_limit", pct_of(r, host));
    if (dev && pct_of(r, *dev) >= 0) o.set("pct_of_device_limit", pct_of(r, *dev));
    a.push_back(o);
  }
  return a;
}

Json limits_json(const bluecl_limits& l) {
  return Json::object()
      .set("device", std::string(l.device))
      .set("read_gbps", l.read_gbps)
      .set("copy_gbps", l.copy_gbps)
      .set("fma_gflops", l.fma_gflops);
}

std::vector<Row> bench_model(const Bench& b, Json& info_out) {
  std::vector<Row> rows;
  // Cold and warm load: a fresh kernel cache, then the same cache again.
  const std::string cache =
      (std::filesystem::temp_directory_path() / ("bluecl-bench-cache-" + std::to_string(getpid()))).string();
  const char* user_cache = std::getenv("BLUECL_CACHE_DIR");
  const std::string saved = user_cache ? user_cache : "";
  setenv("BLUECL_CACHE_DIR", cache.c_str(), 1);
  Row cold{"load (cold kernel cache)", {}, "s"}, warm{"load (warm kernel cache)", {}, "s"};
  bluecl_model_info info{};
  for (Row* r : {&cold, &warm}) {
    const auto t0 = Clock::now();
    ModelPtr m = load(b);
    SessionPtr s = session(m.get(), b, 128);
    r->values.push_back(since(t0));
    check(bluecl_model_get_info(m.get(), &info), "model info");
  }
  std::filesystem::remove_all(cache);
  if (user_cache)
    setenv("BLUECL_CACHE_DIR", saved.c_str(), 1);  // the rest runs with the user's kernels and tuning
  else
    unsetenv("BLUECL_CACHE_DIR");
  rows.push_back(cold);
  rows.push_back(warm);

  ModelPtr m = load(b);
  check(bluecl_model_get_info(m.get(), &info), "model info");
  std::mt19937 rng(1);
  std::uniform_int_distribution<int32_t> tok(10, static_cast<int32_t>(info.n_vocab - 1));
  std::vector<int32_t> prompt(b.n_prompt);
  for (int32_t& t : prompt) t = tok(rng);
  const double flop_per_token = 2.0 * static_cast<double>(info.matmul_params);  // attention not counted
  for (int64_t chunk : b.chunks) {
    SessionPtr s = session(m.get(), b, chunk);
    Row r{"prefill " + std::to_string(b.n_prompt) + " tok, chunk " + std::to_string(chunk), {}, "tok/s"};
    for (int64_t i = 0; i < b.reps; ++i) {
      check(bluecl_session_truncate(s.get(), 0), "reset");
      const auto t0 = Clock::now();
      check(bluecl_session_prefill(s.get(), prompt.data(), prompt.size()), "prefill");
      r.values.push_back(b.n_prompt / since(t0));
    }
    rows.push_back(r);
  }
  {
    SessionPtr s = session(m.get(), b, 128);
    Row r{"decode (after " + std::to_string(std::min<int64_t>(128, b.n_prompt)) + " tok)", {}, "tok/s"};
    for (int64_t i = 0; i < b.reps; ++i) {
      check(bluecl_session_truncate(s.get(), 0), "reset");
      check(bluecl_session_prefill(s.get(), prompt.data(), std::min<size_t>(128, prompt.size())), "prefill");
      const auto t0 = Clock::now();
      for (int64_t k = 0; k < b.n_decode; ++k)
        check(bluecl_session_prefill(s.get(), &prompt[k % prompt.size()], 1), "decode");
      r.values.push_back(b.n_decode / since(t0));
    }
    // Decode reads every weight once per token: bounded by bandwidth / weight bytes.
    r.bytes_per_unit = static_cast<double>(info.matmul_weight_bytes);
    rows.push_back(r);
  }
  for (Row& r : rows)
    if (r.test.rfind("prefill", 0) == 0) r.flops_per_unit = flop_per_token;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  rows.push_back({"peak RSS", {ru.ru_maxrss / 1024.0 / 1024.0}, "GiB"});
  check(bluecl_model_get_info(m.get(), &info), "model info");  // weights reach the device at first use
  rows.push_back({"device memory (peak)", {info.device_peak_bytes / 1073741824.0}, "GiB"});
  info_out = Json::object()
                 .set("model", b.model)
                 .set("arch", std::string(info.arch))
                 .set("n_layer", info.n_layer)
                 .set("n_embd", info.n_embd)
                 .set("weight_bytes", static_cast<double>(info.weight_bytes))
                 .set("devices", std::string(info.devices));
  return rows;
}

// Where the time of a decode step and of a prefill chunk goes, node by node (OpProfile): one more
// decode of --decode tokens after a 128-token prefill, and one prefill of --prompt tokens in the first
// chunk size, each profiled on its own. Profiled runs wait for every op, so their total is above the
// unprofiled step time in the table; the difference is the cost of waiting, roughly one launch per op.
std::string profile_model(const Bench& b) {
  ModelPtr m = load(b);
  bluecl_model_info info{};
  check(bluecl_model_get_info(m.get(), &info), "model info");
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> tok(10, static_cast<int32_t>(info.n_vocab - 1));
  std::vector<int32_t> prompt(b.n_prompt);
  for (int32_t& t : prompt) t = tok(rng);
  std::string out;
  {
    Bench longer = b;  // room for the token that builds the decode graph
    longer.n_decode += 1;
    SessionPtr s = session(m.get(), longer, 128);
    const size_t n0 = std::min<size_t>(128, prompt.size());
    check(bluecl_session_prefill(s.get(), prompt.data(), n0), "prefill");
    check(bluecl_session_prefill(s.get(), &prompt[0], 1), "decode");  // the decode graph is built
    bluecl_profile_start();
    for (int64_t k = 0; k < b.n_decode; ++k)
      check(bluecl_session_prefill(s.get(), &prompt[k % prompt.size()], 1), "decode");
    out += fmt::format("\n### decode, after {} tokens\n\n{}", n0 + 1, bluecl_profile_table());
  }
  {
    SessionPtr s = session(m.get(), b, b.chunks.front());
    check(bluecl_session_prefill(s.get(), prompt.data(), prompt.size()), "prefill");  // graphs are built
    check(bluecl_session_truncate(s.get(), 0), "reset");
    bluecl_profile_start();
    check(bluecl_session_prefill(s.get(), prompt.data(), prompt.size()), "prefill");
    out += fmt::format("\n### prefill of {} tokens, chunk {}\n\n{}", prompt.size(), b.chunks.front(),
                       bluecl_profile_table());
  }
  return out;
}

int body(int argc, char** argv) {
  Bench b;
  bool limits_only = false;
  std::string chunks = "32,128,512,2048";
  Args a(
      "bench", "[--limits] [-m MODEL.gguf] [options]",
      "Measures the machine's limits (memory bandwidth, fp32 FMA rate) and, with -m, a model's load time,\n"
      "prefill and decode speed and memory, each as a median over repetitions beside its limit.\n"
      "Kernel microbenchmarks live in build/bench/bluecl_microbench.");
  a.flag("--limits", &limits_only, "only measure the limits of the host and of the OpenCL device");
  a.opt("-m,--model", &b.model, "the model to benchmark", "FILE");
  a.opt("--device", &b.device, "OpenCL device index/name, or cpu (default: as bluecl run)", "D");
  a.opt("-t,--threads", &b.threads, "CPU threads (default: every core)", {0, 1024});
  a.opt("--prompt", &b.n_prompt, "prompt tokens for the prefill tests (default 2048)", {1, 1 << 20});
  a.opt("--chunks", &chunks, "prefill chunk sizes (default 32,128,512,2048)", "LIST");
  a.opt("--decode", &b.n_decode, "tokens to decode per repetition (default 32)", {1, 1 << 20});
  a.opt("-r,--reps", &b.reps, "repetitions (default 3)", {1, 1000});
  a.opt("--kv", &b.kv, "KV cache type: auto, f32, f16, q8_0", "TYPE");
  a.opt("--mmproj", &b.mmproj,
        "also benchmark images: encode times (1 tile, 2:4), time to first token with and\n"
        "without decoupled encoding, memory with and without the tower",
        "FILE");
  a.opt("--typing", &b.typing_s, "seconds between choosing the image and asking (default 2)", {0, 3600}, "S");
  a.flag("--json", &b.json, "print JSON instead of a markdown table");
  a.flag("--profile", &b.profile,
         "also profile a decode and a prefill node by node (each op waited for and timed on its device) "
         "and print where the time goes");
  if (!a.parse(argc, argv)) return 0;
  b.chunks = parse_list(chunks);
  if (!limits_only && b.model.empty()) throw std::runtime_error("give -m MODEL.gguf, or --limits");
  bluecl_set_log_level(BLUECL_LOG_WARN);

  // The model first, so that its peak memory is its own (measuring limits takes gigabytes).
  std::vector<Row> rows;
  Json info;
  if (!limits_only) {
    rows = bench_model(b, info);
    if (!b.mmproj.empty()) {
      const std::vector<Row> img = bench_images(b.model, b.mmproj, b.device, b.threads, b.reps, b.typing_s);
      rows.insert(rows.end(), img.begin(), img.end());
    }
  }
  bluecl_limits host{}, dev{};
  check(bluecl_measure_host_limits(static_cast<int32_t>(b.threads), &host), "measuring the host");
  const bool cpu_only = b.device == "cpu" || bluecl_device_count() == 0;
  if (!cpu_only) check(bluecl_measure_device_limits(b.device.c_str(), &dev), "measuring the device");
  Json doc = Json::object();
  doc.set("host_limits", limits_json(host));
  if (!cpu_only) doc.set("device_limits", limits_json(dev));
  if (!b.json) {
    std::printf("| limit | read GB/s | copy GB/s | fp32 FMA GFLOP/s |\n|---|---:|---:|---:|\n");
    std::printf("| host | %.1f | %.1f | %.0f |\n", host.read_gbps, host.copy_gbps, host.fma_gflops);
    if (!cpu_only)
      std::printf("| %s | %.1f | %.1f | %.0f |\n", dev.device, dev.read_gbps, dev.copy_gbps, dev.fma_gflops);
  }
  if (!limits_only) {
    doc.set("model", info).set("results", rows_json(rows, host, cpu_only ? nullptr : &dev));
    if (!b.json) {
      std::printf("\nmodel %s (%s)\n\n", b.model.c_str(), info.at("devices").as_string().c_str());
      print_rows(rows, host, cpu_only ? nullptr : &dev);
    }
  }
  if (!limits_only && b.profile) {
    const std::string prof = profile_model(b);
    if (b.json)
      doc.set("profile", prof);
    else
      std::printf("%s", prof.c_str());
  }
  if (b.json) std::printf("%s\n", to_json(doc, 2).c_str());
  return 0;
}

}  // namespace

int bench_main(int argc, char** argv) {
  return run_command("bench", body, argc, argv);
}

}  // namespace bluecl::cli
