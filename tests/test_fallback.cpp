// Fallback that never crashes: a kernel that fails to build, a device that runs out of memory while
// weights load, and ops declined by BLUECL_DECLINE all leave the model running (those ops on the CPU,
// with the reason in the plan) and computing the same logits as the CPU alone.
#include "graph/graph.h"
#include "host/model/llm_model.h"
#include "host/session/session.h"
#include "tests/cl_testing.h"
#include "tests/golden.h"
#include "tests/testing.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace bluecl::testing {
namespace {

const LlmModel& model() {
  static std::unique_ptr<LlmModel> m = LlmModel::load(data_path("golden/tiny-a-q8_0.gguf"));
  return *m;
}

struct Outcome {
  std::vector<float> logits;
  std::string plan;
};

// Teacher-forced logits with fresh devices (so environment variables read at backend creation apply).
Outcome run(const char* device) {
  Devices d(
      {.device = device, .n_threads = 2, .placement = "device", .cpu_precision = CpuPrecision::Reference});
  Session s(model(), d, {.n_ctx = 128, .n_chunk = 16, .kv_type = DType::F32, .all_logits = true});
  s.prefill(read_golden_tokens(data_path("golden/tiny-a-q8_0.tokens.json")).all());
  return {s.all_logits(), s.plan_text(16)};
}

const std::vector<float>& cpu_logits() {
  static const std::vector<float> l = run("cpu").logits;
  return l;
}

class Fallback : public ::testing::Test {
 protected:
  void SetUp() override { BLUECL_REQUIRE_CL(); }
  void TearDown() override {
    for (const char* v :
         {"BLUECL_KERNEL_DIR", "BLUECL_CACHE_DIR", "BLUECL_DEVICE_MEMORY_LIMIT", "BLUECL_DECLINE"})
      unsetenv(v);
  }
  void expect_same_as_cpu(const Outcome& r) {
    EXPECT_LE(nmse(r.logits.data(), cpu_logits().data(), static_cast<int64_t>(cpu_logits().size())), 1e-9);
  }
};

// Loads the kernels from a copy of cl_kernels/ in which rope.cl does not compile; returns the copy.
std::string break_rope_kernel() {
  const std::string dir = temp_dir("bluecl-broken-rope");
  for (const auto& e : std::filesystem::directory_iterator(BLUECL_SOURCE_DIR "/cl_kernels"))
    if (e.path().extension() == ".cl")
      std::filesystem::copy(e.path(), dir + "/" + e.path().filename().string());
  std::ofstream(dir + "/rope.cl", std::ios::app) << "\nthis is not OpenCL C;\n";
  setenv("BLUECL_KERNEL_DIR", dir.c_str(), 1);
  setenv("BLUECL_CACHE_DIR", "none", 1);
  return dir;
}

TEST_F(Fallback, KernelThatFailsToBuildRunsOnCpu) {
  const std::string dir = break_rope_kernel();
  const Outcome r = run("");
  expect_same_as_cpu(r);
  EXPECT_NE(r.plan.find("rope"), std::string::npos);
  EXPECT_NE(r.plan.find("its kernel failed to build"), std::string::npos) << r.plan;
  std::filesystem::remove_all(dir);
}

// scale -> rope -> scale over n_tok tokens of 4 heads of 16.
struct RopeNet {
  Graph g;
  Tensor x, out;
  int rope = -1;  // the rope node's index before scheduling
};
std::unique_ptr<RopeNet> rope_net(int64_t n_tok) {
  auto net = std::make_unique<RopeNet>();
  net->x = net->g.input("x", DType::F32, {n_tok, 4, 16});
  const Tensor pre = net->g.scale(net->x, 0.5f, "pre");
  const Tensor r = net->g.rope(pre, {RopeMode::Adjacent, 16, 10000.0f}, "roped");
  net->rope = static_cast<int>(net->g.nodes().size()) - 1;
  net->out = net->g.scale(r, 2.0f, "post");
  net->g.mark_output(net->out);
  return net;
}

std::vector<float> run_rope_net(RopeNet& net, Executor& ex) {
  const int64_t n = net.g.info(net.x).shape.numel();
  const std::vector<float> x = random_floats(n, 7);
  ex.set_input(net.x, x.data(), x.size() * sizeof(float));
  ex.run(Step{2});
  std::vector<float> out(n);
  ex.read(net.out, out.data(), out.size() * sizeof(float));
  return out;
}

TEST_F(Fallback, KernelDeclinedAtPrepareIsInThePlanNotTheBackend) {
  const std::string dir = break_rope_kernel();
  Devices d({.device = "", .n_threads = 2, .placement = "device", .cpu_precision = CpuPrecision::Reference});
  ASSERT_NE(d.cl(), nullptr);
  auto net = rope_net(5);
  Devices::Prepared p = d.prepare(net->g, {});
  const std::string text = format_plan(net->g, p.plan, d.backends());

  // The plan records the decline with its reason, and the rope node runs on the CPU; its neighbours
  // stay on the device.
  ASSERT_EQ(p.plan.declined.size(), 1u) << text;
  const Decline& decl = p.plan.declined[0];
  EXPECT_EQ(decl.op, OpKind::Rope);
  EXPECT_EQ(decl.node, net->rope);
  EXPECT_EQ(decl.device, 1);
  EXPECT_NE(decl.reason.find("its kernel failed to build"), std::string::npos) << decl.reason;
  EXPECT_NE(text.find("declined: rope on cl"), std::string::npos) << text;
  for (const Placement& pl : p.plan.nodes)
    if (pl.source >= 0) {
      EXPECT_EQ(pl.device, pl.source == net->rope ? 0 : 1) << text;
    }
  EXPECT_EQ(p.plan.n_transfers, 2) << text;
  Devices cpu({.device = "cpu", .n_threads = 2, .cpu_precision = CpuPrecision::Reference});
  auto ref_net = rope_net(5);
  Devices::Prepared ref = cpu.prepare(ref_net->g, {});
  const std::vector<float> want = run_rope_net(*ref_net, *ref.ex), got = run_rope_net(*net, *p.ex);
  EXPECT_LE(nmse(got.data(), want.data(), static_cast<int64_t>(want.size())), 1e-9);

  // The backend is not changed by it: another graph on the same devices still places rope on OpenCL.
  auto other = rope_net(3);
  const Node rope = other->g.nodes()[other->rope];
  EXPECT_TRUE(d.cl()->supports(other->g, rope).ok);
  const Plan q = schedule(other->g, d.backends(), d.schedule_options());
  EXPECT_TRUE(q.declined.empty()) << format_plan(other->g, q, d.backends());
  for (const Placement& pl : q.nodes)
    if (pl.source == other->rope) {
      EXPECT_EQ(pl.device, 1) << format_plan(other->g, q, d.backends());
    }
  std::filesystem::remove_all(dir);
}

TEST_F(Fallback, DeviceOutOfMemoryKeepsWeightsInHostMemory) {
  // tiny-a-q8_0's weights take ~3.5 MB: a 1.5 MB device fits some of them.
  setenv("BLUECL_DEVICE_MEMORY_LIMIT", "1500000", 1);
  const Outcome r = run("");
  expect_same_as_cpu(r);
  EXPECT_NE(r.plan.find("is in host memory (the device ran out)"), std::string::npos) << r.plan;
  EXPECT_NE(r.plan.find("weights in host memory (the device ran out):"), std::string::npos) << r.plan;
  const std::string dev = fmt::format(" cl{} ", cl_device()->index);  // the plan names a device by its index
  EXPECT_NE(r.plan.find(dev), std::string::npos) << "some ops should still run on the device\n" << r.plan;
}

TEST_F(Fallback, DeclinedOpsRunOnCpu) {
  setenv("BLUECL_DECLINE", "attention,silu_mul", 1);
  const Outcome r = run("");
  expect_same_as_cpu(r);
  EXPECT_NE(r.plan.find("declined on request"), std::string::npos) << r.plan;
  EXPECT_NE(r.plan.find("declined: attention on cl"), std::string::npos) << r.plan;
  // attention is declined, so the cache (and kv_write) lives on the CPU.
  EXPECT_NE(r.plan.find("lives on cpu"), std::string::npos) << r.plan;
}

}  // namespace
}  // namespace bluecl::testing
