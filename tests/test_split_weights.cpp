// Weights larger than the device's largest allocation are split by rows across buffers: matmul runs once
// per part and get_rows picks each row from its part, instead of sending those ops to the CPU. The limit
// is lowered (BLUECL_MAX_ALLOC) so the tiny golden models' embedding and output matrices split, and the
// logits must match the same device with every weight in one buffer.
#include "backend/cl/cl_runtime.h"
#include "host/model/llm_model.h"
#include "host/runtime/executor.h"
#include "host/runtime/scheduler.h"
#include "host/session/session.h"
#include "tests/cl_testing.h"
#include "tests/golden.h"
#include "tests/testing.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace bluecl::testing {
namespace {

struct Outcome {
  std::vector<float> logits;
  std::string plan;
  int64_t embd_rows_per_part = 0;
};

// Teacher-forced logits of every token on the OpenCL device, in chunks of n_chunk tokens (1: every
// matmul has one row, the in-place path; more: the scratch and rectangle-copy path).
Outcome run(const LlmModel& m, const std::string& stem, size_t max_alloc, int64_t n_chunk) {
  if (max_alloc)
    setenv("BLUECL_MAX_ALLOC", std::to_string(max_alloc).c_str(), 1);
  else
    unsetenv("BLUECL_MAX_ALLOC");
  Devices d({.device = "", .n_threads = 2, .placement = "device", .cpu_precision = CpuPrecision::Reference});
  unsetenv("BLUECL_MAX_ALLOC");
  Graph g;
  const int64_t per = d.cl()->rows_per_part(g.info(m.weights().tok_embd.add_to(g)));
  Session s(m, d, {.n_ctx = 128, .n_chunk = n_chunk, .kv_type = DType::F32, .all_logits = true});
  s.prefill(read_golden_tokens(data_path("golden/" + stem + ".tokens.json")).all());
  return {s.all_logits(), s.plan_text(n_chunk), per};
}

std::vector<std::string> lines_on_cpu(const std::string& plan) {
  std::vector<std::string> out;
  std::stringstream ss(plan);
  for (std::string line; std::getline(ss, line);)
    if (line.find(" cpu ") != std::string::npos) out.push_back(line);
  return out;
}

// The limit that splits tok_embd into about `parts` buffers.
size_t limit_for(const LlmModel& m, int parts) {
  const WeightRef& e = m.weights().tok_embd;
  return cl_weight_layout(e.dtype, e.shape[0], e.shape[1]).total_bytes / parts + 1;
}

class SplitWeights : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { BLUECL_REQUIRE_CL(); }
  void TearDown() override { unsetenv("BLUECL_MAX_ALLOC"); }
};

TEST_P(SplitWeights, SameLogitsAsOneBuffer) {
  const std::string stem = GetParam();
  const auto m = LlmModel::load(data_path("golden/" + stem + ".gguf"));
  const int64_t vocab = m->weights().tok_embd.shape[0];
  for (const int64_t chunk : {int64_t{1}, int64_t{16}}) {
    const Outcome whole = run(*m, stem, 0, chunk);
    ASSERT_EQ(whole.embd_rows_per_part, vocab);
    // Parts of a multiple of 64 rows with a shorter last one, then parts of a few rows each.
    for (const int parts : {3, 40}) {
      SCOPED_TRACE(fmt::format("{}: chunk {}, ~{} parts", stem, chunk, parts));
      const Outcome split = run(*m, stem, limit_for(*m, parts), chunk);
      ASSERT_GT(split.embd_rows_per_part, 0);
      ASSERT_LT(split.embd_rows_per_part, vocab) << "tok_embd was not split";
      if (parts == 3) {
        EXPECT_EQ(split.embd_rows_per_part % 64, 0);
      } else {
        EXPECT_LT(split.embd_rows_per_part, 64);
      }
      // The split ops stay on the device.
      EXPECT_EQ(split.plan, whole.plan);
      EXPECT_TRUE(lines_on_cpu(split.plan).empty()) << split.plan;
      ASSERT_EQ(split.logits.size(), whole.logits.size());
      EXPECT_LE(nmse(split.logits.data(), whole.logits.data(), static_cast<int64_t>(whole.logits.size())),
                1e-12);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, SplitWeights,
                         ::testing::Values("tiny-a-q4_0", "tiny-a-q8_0", "tiny-a-f16", "tiny-a-f32"));

// A tied table (get_rows and the output matmul read the same weight):
// y = get_rows(table, ids) [n, D], logits = y * table^T [n, R], split or whole.
std::vector<float> run_tied(ClBackend& cl, DType dt, int64_t n, bool cpu_only = false) {
  constexpr int64_t R = 300, D = 64;
  const std::vector<float> f = random_floats(R * D, 7, -0.5f, 0.5f);
  std::vector<uint8_t> table(dtype_bytes(dt, R * D));
  for (int64_t r = 0; r < R; ++r)
    quantize_row(dt, f.data() + r * D, table.data() + dtype_bytes(dt, r * D), D);
  Graph g;
  const Tensor ids = g.input("ids", DType::I32, {n});
  const Tensor w = g.weight("table", dt, {R, D}, table.data());
  const Tensor logits = g.matmul(g.get_rows(w, ids, "rows"), w, {}, "logits");
  g.mark_output(logits);
  static CpuBackend cpu(2, CpuPrecision::Reference);
  std::vector<Backend*> backends{&cpu};
  if (!cpu_only) backends.push_back(&cl);
  const Plan plan = schedule(g, backends, {});
  for (const Placement& p : plan.nodes)
    EXPECT_EQ(p.device, cpu_only ? 0 : 1) << format_plan(g, plan, backends);
  std::vector<int32_t> id(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    id[i] = static_cast<int32_t>((i * 97 + 13) % R);  // every part, out of order
  id[0] = R - 1;
  std::vector<float> out(static_cast<size_t>(n * R));
  {
    Executor ex(g, plan, backends);
    ex.prepare();
    ex.set_input(ids, id.data(), id.size() * 4);
    ex.run(Step{});
    ex.read(logits, out.data(), out.size() * 4);
  }
  for (Backend* b : backends) b->release_weight(table.data());
  return out;
}

TEST(SplitWeightsTied, GetRowsAndMatmulOnParts) {
  BLUECL_REQUIRE_CL();
  for (const DType dt : {DType::Q4_0, DType::Q8_0, DType::F16, DType::F32}) {
    for (const int64_t n : {int64_t{1}, int64_t{9}}) {
      SCOPED_TRACE(fmt::format("{}, {} rows", dtype_name(dt), n));
      ClBackend whole(*cl_device());
      const size_t row = cl_weight_layout(dt, 1, 64).total_bytes;
      ClBackend split(*cl_device(),
                      {.max_weight_alloc = cl_weight_layout(dt, 70, 64).total_bytes});  // 64 rows
      ClBackend rows(*cl_device(), {.max_weight_alloc = row * 7 + 300});                // parts of a few rows
      const std::vector<float> ref = run_tied(whole, dt, n, true);
      const std::vector<float> a = run_tied(whole, dt, n);
      const std::vector<float> b = run_tied(split, dt, n);
      const std::vector<float> c = run_tied(rows, dt, n);
      EXPECT_LE(nmse(a.data(), ref.data(), static_cast<int64_t>(ref.size())), 1e-6);
      EXPECT_LE(nmse(b.data(), a.data(), static_cast<int64_t>(a.size())), 1e-12);
      EXPECT_LE(nmse(c.data(), a.data(), static_cast<int64_t>(a.size())), 1e-12);
    }
  }
}

TEST(SplitWeightsLimits, OnlyMatmulAndGetRowsSplit) {
  BLUECL_REQUIRE_CL();
  // An add reading a weight over the limit is declined with the reason; a matmul on it is not.
  std::vector<float> wdata(64 * 32, 0.5f);
  Graph g;
  const Tensor x = g.input("x", DType::F32, {4, 32});
  const Tensor w = g.weight("w", DType::F32, {64, 32}, wdata.data());
  const Tensor y = g.matmul(x, w, {}, "y");
  (void)y;
  const Tensor u = g.input("u", DType::F32, {64, 32});
  g.add(u, g.reshape(w, {64, 32}), "z");  // a view of the weight: its base must fit one buffer
  g.add(u, w, "v");
  ClBackend cl(*cl_device(), {.max_weight_alloc = 32 * 4 * 10});  // 10 rows per part
  const TensorInfo& wi = g.info(w);
  EXPECT_EQ(cl.rows_per_part(wi), 10);
  EXPECT_TRUE(cl.supports(g, g.nodes()[0]).ok) << cl.supports(g, g.nodes()[0]).reason;
  ASSERT_EQ(g.nodes().size(), 3u);
  for (size_t i = 1; i < g.nodes().size(); ++i) {
    const Support s = cl.supports(g, g.nodes()[i]);
    EXPECT_FALSE(s.ok) << g.info(g.nodes()[i].out).name;
    EXPECT_NE(s.reason.find("only matmul and get_rows split a weight"), std::string::npos) << s.reason;
  }
  ClBackend tiny(*cl_device(), {.max_weight_alloc = 100});  // not even one 128-byte row
  EXPECT_EQ(tiny.rows_per_part(wi), 0);
  EXPECT_FALSE(tiny.supports(g, g.nodes()[0]).ok);
}

}  // namespace
}  // namespace bluecl::testing
