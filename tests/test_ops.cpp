// Every op x dtype x shape on the OpenCL device against the CPU backend: normalised MSE under the op's
// threshold, no NaN/Inf, guard bytes around the output untouched. Quantised matmuls are also checked
// against a float64 dequantise-then-multiply reference. Exits 77 (skip) without an OpenCL device.
// Each case prints the kernels it launched with their -D defines; a forced variant the device declines
// is SKIPPED with the reason. BLUECL_OP_TEST_SMALL=1 keeps only small cases (at least one per op and
// variant) for slow devices such as Oclgrind.
#include "backend/cl/cl_backend.h"
#include "backend/cl/cl_runtime.h"
#include "backend/cpu/cpu_backend.h"
#include "graph/base/error.h"
#include "graph/base/parse.h"
#include "tests/cl_testing.h"
#include "tests/op_cases.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>

namespace bluecl::testing {
namespace {

CpuBackend& cpu() {
  static CpuBackend be(2, CpuPrecision::Reference);
  return be;
}

// Released by main() after the tests, not by a static destructor (see shared_until_tests_end).
ClBackend& cl() {
  static ClBackend& be = shared_until_tests_end(std::make_unique<ClBackend>(*cl_device()));
  return be;
}

uint64_t seed_of(const std::string& name) {
  return std::hash<std::string>{}(name);
}

// While alive, records the kernels launched; on destruction prints them
// ("  ran matmul.cl:matmul -DTM=4 -DTN=4 -DWTYPE=3 [16x7/16x1]") and adds them to the test's XML record.
class LaunchRecord {
 public:
  explicit LaunchRecord(ClRuntime& rt) : rt_(rt) { rt_.launch_log = &log_; }
  ~LaunchRecord() {
    rt_.launch_log = nullptr;
    std::string all;
    for (size_t i = 0; i < log_.size(); ++i) {
      if (i > 0 && log_[i] == log_[i - 1]) continue;
      std::printf("  ran %s\n", log_[i].c_str());
      all += (all.empty() ? "" : "; ") + log_[i];
    }
    if (log_.empty()) std::printf("  ran no OpenCL kernel\n");
    ::testing::Test::RecordProperty("kernels", all.empty() ? "none" : all);
  }
  LaunchRecord(const LaunchRecord&) = delete;
  LaunchRecord& operator=(const LaunchRecord&) = delete;

 private:
  ClRuntime& rt_;
  std::vector<std::string> log_;
};

// The op and variant a case exercises: its name without the shape ("matmul/q4_0/rows", "rms_norm/w/wg").
std::string variant_key(const OpCase& c) {
  std::string key;
  bool in_shape = false;
  for (char ch : c.name) {
    if (ch == '[') in_shape = true;
    if (!in_shape && !std::isdigit(static_cast<unsigned char>(ch))) key += ch;
    if (ch == ']') in_shape = false;
  }
  // Digits went with the shapes, so q4_0 and q8_0 look alike: a dtype segment is kept whole.
  const size_t slash = c.name.find('/');
  const std::string second = c.name.substr(slash + 1, c.name.find('/', slash + 1) - slash - 1);
  for (const char* t : {"f32", "f16", "q8_0", "q4_0", "i32"})
    if (second.rfind(t, 0) == 0 || second.find(std::string("-") + t) != std::string::npos)
      key += std::string("|") + second;
  return key + "|" + c.force_variant;
}

// Elements a case touches (leaves and output): the cost of a case on a slow device.
int64_t case_elements(const OpCase& c) {
  OpBuilder b(1);
  c.build(b);
  int64_t n = 0;
  for (const TensorInfo& t : b.g.tensors()) n += t.shape.numel();
  return n;
}

// all_op_cases(), or with BLUECL_OP_TEST_SMALL=1 the cases of at most kSmall elements plus the smallest
// case of every op and variant that has none that small: every kernel variant still runs, at small shapes.
std::vector<OpCase> cases_to_run() {
  std::vector<OpCase> all = all_op_cases();
  if (env_choice("BLUECL_OP_TEST_SMALL", "0|1").value_or(0) == 0) return all;
  constexpr int64_t kSmall = 4096;
  std::map<std::string, std::pair<int64_t, size_t>> smallest;  // variant key -> (elements, index)
  std::vector<int64_t> size(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    size[i] = case_elements(all[i]);
    auto [it, fresh] = smallest.try_emplace(variant_key(all[i]), size[i], i);
    if (!fresh && size[i] < it->second.first) it->second = {size[i], i};
  }
  std::vector<OpCase> out;
  for (size_t i = 0; i < all.size(); ++i)
    if (size[i] <= kSmall || smallest.at(variant_key(all[i])).second == i) out.push_back(all[i]);
  return out;
}

// Worst NMSE per op, printed at the end (the closing note's table comes from here).
std::map<std::string, double>& worst() {
  static std::map<std::string, double> w;
  return w;
}

// Runs case c on the OpenCL backend with its forced variant, if any. A forced variant that needs what
// this device lacks (fp16, a subgroup size, a work-group that large) is a skip with the reason in *why,
// never a pass; any other error (a kernel that fails to build where the device claims the feature)
// propagates and fails the test.
std::optional<OpRun> run_on_cl(const OpCase& c, OpBuilder& b, std::string* why) {
  if (!c.force_op.empty()) cl().runtime().force_variant(c.force_op, c.force_variant);
  try {
    OpRun got = run_op(cl(), b, c.step);
    if (!c.force_op.empty()) cl().runtime().force_variant(c.force_op, "");
    return got;
  } catch (const Error& e) {
    if (!c.force_op.empty()) cl().runtime().force_variant(c.force_op, "");
    if (e.status() != Status::Unsupported || c.force_op.empty()) throw;
    *why = e.what();
    return std::nullopt;
  }
}

class OpTest : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpTest, MatchesCpu) {
  BLUECL_REQUIRE_CL();
  const OpCase& c = GetParam();
  OpBuilder b(seed_of(c.name));
  c.build(b);
  const Support s = cl().supports(b.g, b.g.nodes().back());
  // A variant for some devices only (fp16, subgroups, ...) may be declined: a skip with the reason. The
  // default choice for an op must always run.
  if (!s.ok && !c.force_variant.empty())
    GTEST_SKIP() << "SKIPPED: the device declines " << c.name << ": " << s.reason;
  ASSERT_TRUE(s.ok) << "the OpenCL backend declines " << c.name << ": " << s.reason;

  const OpRun ref = run_op(cpu(), b, c.step);
  std::string skipped;
  std::optional<OpRun> run;
  {
    LaunchRecord rec(cl().runtime());
    run = run_on_cl(c, b, &skipped);
  }
  if (!run) GTEST_SKIP() << "SKIPPED " << c.name << ": " << skipped;
  const OpRun& got = *run;

  EXPECT_TRUE(ref.guards_intact) << "CPU wrote outside its output";
  EXPECT_TRUE(got.guards_intact) << "kernel wrote outside its output";
  EXPECT_EQ(ref.non_finite, 0);
  EXPECT_EQ(got.non_finite, 0) << "NaN/Inf in the kernel's output";
  ASSERT_EQ(got.out.size(), ref.out.size());
  const double e = nmse(got.out.data(), ref.out.data(), static_cast<int64_t>(ref.out.size()));
  EXPECT_LE(e, c.max_nmse) << c.name;
  const std::string op = c.name.substr(0, c.name.find('/'));
  const std::string key = op + (c.force_variant.empty() ? "" : "/" + c.force_variant);
  worst()[key] = std::max(worst()[key], e);
}

INSTANTIATE_TEST_SUITE_P(All, OpTest, ::testing::ValuesIn(cases_to_run()),
                         [](const ::testing::TestParamInfo<OpCase>& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// Quantised matmul against an exact float64 reference computed from the very bytes uploaded.
TEST(MatmulFloat64, QuantisedWeights) {
  BLUECL_REQUIRE_CL();
  for (const OpCase& c : cases_to_run()) {
    if (c.name.rfind("matmul/q", 0) != 0) continue;
    OpBuilder b(seed_of(c.name));
    c.build(b);
    const Node& n = b.g.nodes().back();
    const TensorInfo& xi = b.g.info(n.src[0]);
    const TensorInfo& wi = b.g.info(n.src[1]);
    if (xi.kind != TensorKind::Input) continue;
    const int64_t M = xi.shape.rows(), K = xi.shape.last(), N = wi.shape[0];
    const auto* x = reinterpret_cast<const float*>(b.bytes(n.src[0]).data());
    std::vector<float> wrow(K);
    std::vector<double> ref(M * N);
    for (int64_t j = 0; j < N; ++j) {
      dequantize_row(wi.dtype, static_cast<const uint8_t*>(wi.data) + j * wi.row_bytes(), wrow.data(), K);
      for (int64_t i = 0; i < M; ++i) {
        double acc = n.n_src > 2 ? reinterpret_cast<const float*>(b.bytes(n.src[2]).data())[j] : 0.0;
        for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(x[i * K + k]) * wrow[k];
        ref[i * N + j] = acc;
      }
    }
    std::string skipped;
    const std::optional<OpRun> got = run_on_cl(c, b, &skipped);
    if (!got) {
      std::printf("SKIPPED %s: %s\n", c.name.c_str(), skipped.c_str());
      continue;
    }
    std::vector<float> ref_f(ref.begin(), ref.end());
    // fp32 variants to rounding; reduced-precision ones (fp16 products) at their own threshold.
    EXPECT_LE(nmse(got->out.data(), ref_f.data(), M * N), std::max(1e-9, c.max_nmse)) << c.name;
  }
}

// The harness itself must catch broken kernels: run cases against deliberately broken copies of the
// kernel sources (loaded through BLUECL_KERNEL_DIR) and expect failures.
class BrokenKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cl_device()) GTEST_SKIP() << "no OpenCL device";
    dir_ = temp_dir("bluecl-broken-kernels");
    for (const auto& e : std::filesystem::directory_iterator(BLUECL_SOURCE_DIR "/cl_kernels"))
      if (e.path().extension() == ".cl")
        std::filesystem::copy(e.path(), dir_ + "/" + e.path().filename().string());
    setenv("BLUECL_KERNEL_DIR", dir_.c_str(), 1);
    setenv("BLUECL_CACHE_DIR", "none", 1);
  }
  void TearDown() override {
    if (dir_.empty()) return;
    unsetenv("BLUECL_KERNEL_DIR");
    unsetenv("BLUECL_CACHE_DIR");
    std::filesystem::remove_all(dir_);
  }
  void replace(const std::string& file, const std::string& from, const std::string& to) {
    const std::string path = dir_ + "/" + file;
    std::string text = read_text(path);
    const size_t pos = text.find(from);
    ASSERT_NE(pos, std::string::npos) << from << " not in " << file;
    text.replace(pos, from.size(), to);
    std::ofstream(path) << text;
  }
  OpRun run_on_fresh_backend(const std::function<void(OpBuilder&)>& build, OpBuilder& b) {
    build(b);
    ClBackend be(*cl_device());
    return run_op(be, b, {});
  }
  std::string dir_;
};

TEST_F(BrokenKernels, WrongResultIsCaught) {
  replace("add.cl", "CPTR(float, a, a_off)[i] + CPTR", "CPTR(float, a, a_off)[i] - CPTR");
  OpBuilder b(1);
  const OpRun got = run_on_fresh_backend(
      [](OpBuilder& ob) {
        ob.g.add(ob.input("a", {4, 9}), ob.input("b", {4, 9}));
      },
      b);
  const OpRun ref = run_op(cpu(), b, {});
  EXPECT_GT(nmse(got.out.data(), ref.out.data(), static_cast<int64_t>(ref.out.size())), 1e-3);
}

TEST_F(BrokenKernels, OutOfBoundsWriteIsCaught) {
  replace("scale.cl", "if (i >= n) return;", "if (i > n) return;");
  OpBuilder b(2);
  const OpRun got = run_on_fresh_backend([](OpBuilder& ob) { ob.g.scale(ob.input("x", {3, 5}), 2.0f); }, b);
  EXPECT_FALSE(got.guards_intact);
}

TEST_F(BrokenKernels, NanIsCaught) {
  replace("silu_mul.cl", "v / (1.0f + exp(-v))", "v / (0.0f * exp(-v))");
  OpBuilder b(3);
  const OpRun got = run_on_fresh_backend(
      [](OpBuilder& ob) {
        ob.g.silu_mul(ob.input("g", {2, 8}), ob.input("u", {2, 8}));
      },
      b);
  EXPECT_GT(got.non_finite, 0);
}

// A launch whose work-group the built kernel cannot take is refused when it is first seen (the dry launch
// of prepare), with the kernel's name, instead of failing inside the driver during generation.
TEST(LaunchLimits, OversizedWorkGroupIsRefusedAtPrepare) {
  BLUECL_REQUIRE_CL();
  ClRuntime& rt = cl().runtime();
  ClKernel& k = rt.kernel(ClProgram::Add, {}, "add");
  const size_t too_many = rt.features.max_work_group_size * 2;
  rt.dry = true;
  try {
    rt.launch(k, cl::NDRange(too_many), cl::NDRange(too_many));
    rt.dry = false;
    FAIL() << "a work-group of " << too_many << " was accepted";
  } catch (const Error& e) {
    rt.dry = false;
    EXPECT_EQ(e.status(), Status::Device);
    EXPECT_NE(std::string(e.what()).find("add"), std::string::npos) << e.what();
  }
  rt.dry = true;
  EXPECT_NO_THROW(rt.launch(k, cl::NDRange(1), cl::NDRange(1)));
  rt.dry = false;
}

// Forced variants are typed: a misspelt op or variant name is refused instead of running the default.
TEST(ForcedVariants, UnknownNamesAreRefused) {
  BLUECL_REQUIRE_CL();
  ClRuntime& rt = cl().runtime();
  EXPECT_THROW(rt.force_variant("matmul", "tilde"), Error);
  EXPECT_THROW(rt.force_variant("matmull", "tiled"), Error);
  EXPECT_EQ(rt.variant(OpKind::MatMul, ClVariant::Vec), ClVariant::Vec);
  rt.force_variant("matmul", "tiled");
  EXPECT_EQ(rt.variant(OpKind::MatMul, ClVariant::Vec), ClVariant::Tiled);
  rt.force_variant("matmul", "");
  EXPECT_EQ(rt.variant(OpKind::MatMul, ClVariant::Vec), ClVariant::Vec);
}

class WorstPrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!cl_device()) return;
    std::printf("\nworst NMSE per op (variant) vs the CPU backend on %s:\n",
                cl_device()->features.device_name.c_str());
    for (const auto& [op, e] : worst()) std::printf("  %-22s %.3g\n", op.c_str(), e);
  }
};
const auto* printer = ::testing::AddGlobalTestEnvironment(new WorstPrinter);

}  // namespace
}  // namespace bluecl::testing

namespace bluecl::testing {
namespace {

// kv_write against an independent expectation (not the CPU backend): rows n_past .. n_past+n-1 of the
// cache hold the source converted to the cache's type, every other byte is unchanged.
TEST(KvWrite, WritesWholePositionsAtPast) {
  BLUECL_REQUIRE_CL();
  for (DType t : {DType::F32, DType::F16, DType::Q8_0}) {
    for (Backend* be : std::initializer_list<Backend*>{&cpu(), &cl()}) {
      OpBuilder b(7);
      Tensor src = b.input("k", {3, 2, 32});
      Tensor cache = b.state("cache", t, {10, 2, 32});
      b.g.kv_write(src, cache);
      const OpRun got = run_op(*be, b, Step{4});
      std::vector<float> expect(10 * 64);
      const std::vector<uint8_t>& init = b.bytes(cache.id);
      for (int64_t r = 0; r < 10; ++r)
        dequantize_row(t, init.data() + dtype_bytes(t, r * 64), expect.data() + r * 64, 64);
      std::vector<uint8_t> conv(dtype_bytes(t, 64));
      const auto* s = reinterpret_cast<const float*>(b.bytes(src.id).data());
      for (int64_t r = 0; r < 3; ++r) {
        quantize_row(t, s + r * 64, conv.data(), 64);
        dequantize_row(t, conv.data(), expect.data() + (4 + r) * 64, 64);
      }
      EXPECT_EQ(got.out, expect) << dtype_name(t) << " on " << be->name();
    }
  }
}

}  // namespace
}  // namespace bluecl::testing
