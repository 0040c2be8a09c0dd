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

TEST_F(Fallback, KernelThatFailsToBuildRunsOnCpu) {
  const std::string dir = temp_dir("bluecl-broken-rope");
  for (const auto& e : std::filesystem::directory_iterator(BLUECL_SOURCE_DIR "/cl_kernels"))
    if (e.path().extension() == ".cl")
      std::filesystem::copy(e.path(), dir + "/" + e.path().filename().string());
  std::ofstream(dir + "/rope.cl", std::ios::app) << "\nthis is not OpenCL C;\n";
  setenv("BLUECL_KERNEL_DIR", dir.c_str(), 1);
  setenv("BLUECL_CACHE_DIR", "none", 1);
  const Outcome r = run("");
  expect_same_as_cpu(r);
  EXPECT_NE(r.plan.find("rope"), std::string::npos);
  EXPECT_NE(r.plan.find("its kernel failed to build"), std::string::npos) << r.plan;
  std::filesystem::remove_all(dir);
}

TEST_F(Fallback, DeviceOutOfMemoryKeepsWeightsInHostMemory) {
  // tiny-a-q8_0's weights take ~3.5 MB: a 1.5 MB device fits some of them.
  setenv("BLUECL_DEVICE_MEMORY_LIMIT", "1500000", 1);
  const Outcome r = run("");
  expect_same_as_cpu(r);
  EXPECT_NE(r.plan.find("is in host memory (the device ran out)"), std::string::npos) << r.plan;
  const std::string dev = fmt::format(" cl{} ", cl_device()->index);  // the plan names a device by its index
  EXPECT_NE(r.plan.find(dev), std::string::npos) << "some ops should still run on the device\n" << r.plan;
}

TEST_F(Fallback, DeclinedOpsRunOnCpu) {
  setenv("BLUECL_DECLINE", "attention,silu_mul", 1);
  const Outcome r = run("");
  expect_same_as_cpu(r);
  EXPECT_NE(r.plan.find("declined on request"), std::string::npos) << r.plan;
  // attention is declined, so the cache (and kv_write) lives on the CPU.
  EXPECT_NE(r.plan.find("lives on cpu"), std::string::npos) << r.plan;
}

}  // namespace
}  // namespace bluecl::testing
