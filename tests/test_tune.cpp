// The auto-tuner (host/runtime/tune.cpp, `bluecl tune`): every launch it may choose computes the same result
// as the CPU at awkward shapes; it rejects a launch whose kernel is wrong; the tuning file round-trips, a
// malformed one (or one with an unknown name) is ignored with a warning, and a new backend on the same device
// picks the saved choices up.
#include "backend/cl/cl_backend.h"
#include "backend/cl/cl_runtime.h"
#include "backend/cpu/cpu_backend.h"
#include "bluecl/bluecl.h"
#include "graph/base/log.h"
#include "host/runtime/tune.h"
#include "tests/cl_testing.h"
#include "tests/op_harness.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace bluecl::testing {
namespace {

// Each test keeps its own cache directory: the tuning files it writes must not reach other tests.
class Tune : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("bluecl-tune");
    setenv("BLUECL_CACHE_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("BLUECL_CACHE_DIR");
    unsetenv("BLUECL_KERNEL_DIR");
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(Tune, FileRoundTripsAndMalformedFilesAreIgnored) {
  ClTuning t;
  t.set(ClTuningKey::matmul(DType::Q4_0, 1), {ClVariant::Rows, {.items = 8}});
  t.set(ClTuningKey::matmul(DType::F16, 7), {ClVariant::Tiled, {.tm = 2, .tn = 8, .wg = 32}});
  t.set(ClTuningKey::rms_norm(), {ClVariant::Row, {}});
  const std::string path = dir_ + "/tune-test.txt";
  t.save(path);
  ClTuning back;
  ASSERT_TRUE(back.load(path));
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back.find(ClTuningKey::matmul(DType::F16, 7))->str(), "tiled tm=2 tn=8 wg=32");
  EXPECT_EQ(back.find(ClTuningKey::matmul(DType::Q4_0, 1))->p.items, 8);
  EXPECT_EQ(back.find(ClTuningKey::matmul(DType::Q4_0, 1))->p.tn, std::nullopt);
  EXPECT_EQ(back.find(ClTuningKey::rms_norm())->variant, ClVariant::Row);
  EXPECT_EQ(back.find(ClTuningKey::layer_norm()), nullptr);
  EXPECT_EQ(read_text(path),
            "# bluecl tuning v1\nmatmul/q4_0/gemv rows items=8\nmatmul/f16/gemm tiled tm=2 tn=8 wg=32\n"
            "rms_norm row\n");

  ClTuning missing;
  EXPECT_FALSE(missing.load(dir_ + "/absent.txt"));
  for (const char* text : {"not a tuning file\n", "# bluecl tuning v1\nmatmul/q4_0/gemv\n",
                           "# bluecl tuning v1\nmatmul/q4_0/gemv rows items=abc\n",
                           "# bluecl tuning v1\nmatmul/q4_0/gemv rows items=-4\n",
                           "# bluecl tuning v1\nmatmul/q4_0/gemv rows items=100000\n",
                           "# bluecl tuning v1\nmatmul/q4_0/gemv rows =4\n"}) {
    std::ofstream(path) << text;
    ClTuning bad;
    bad.set(ClTuningKey::rms_norm(), {ClVariant::Row, {}});
    EXPECT_FALSE(bad.load(path)) << text;
    EXPECT_EQ(bad.size(), 1u) << "a failed load keeps what was there: " << text;
  }
}

// The file's names are checked: an unknown parameter, variant or key, or a variant of another kernel,
// rejects the whole file with a warning that names it (a typo never falls back to a default silently).
TEST_F(Tune, UnknownNamesRejectTheFileWithAWarning) {
  const std::string path = dir_ + "/tune-names.txt";
  const std::string good =
      "# bluecl tuning v1\nmatmul/q8_0/gemv vec lanes=32 rows=2\nmatmul/q4_0/gemm tile bm=32 bn=64 tm=4 "
      "tn=4\n"
      "layer_norm wg wg=128\n";
  std::ofstream(path) << good;
  ClTuning t;
  ASSERT_TRUE(t.load(path));
  ASSERT_EQ(t.size(), 3u);
  const ClLaunch* vec = t.find(ClTuningKey::matmul(DType::Q8_0, 1));
  ASSERT_NE(vec, nullptr);
  EXPECT_EQ(vec->variant, ClVariant::Vec);
  EXPECT_EQ(vec->p.lanes, 32);
  EXPECT_EQ(vec->p.rows, 2);
  EXPECT_EQ(t.find(ClTuningKey::matmul(DType::Q4_0, 5))->p.bm, 32);
  EXPECT_EQ(t.find(ClTuningKey::layer_norm())->p.wg, 128);

  struct Bad {
    const char* line;
    const char* warning;  // what the warning must name
  };
  const Bad bad[] = {{"matmul/q4_0/gemv rows itemz=8", "unknown parameter `itemz`"},
                     {"matmul/q4_0/gemv rowz items=8", "unknown variant `rowz`"},
                     {"matmul/q5_0/gemv rows items=8", "unknown key `matmul/q5_0/gemv`"},
                     {"rms_norm tiled tm=2", "`tiled` is not a variant of rms_norm"}};
  for (const Bad& b : bad) {
    std::ofstream(path) << good << b.line << "\n";
    std::vector<std::string> warnings;
    set_log_sink(
        [](LogLevel level, const char*, const char* msg, void* user) {
          if (level == LogLevel::Warn) static_cast<std::vector<std::string>*>(user)->push_back(msg);
        },
        &warnings);
    ClTuning kept = t;
    const bool loaded = kept.load(path);
    set_log_sink(nullptr, nullptr);
    EXPECT_FALSE(loaded) << b.line;
    EXPECT_EQ(kept.size(), 3u) << "a failed load keeps what was there: " << b.line;
    ASSERT_EQ(warnings.size(), 1u) << b.line;
    EXPECT_NE(warnings[0].find(b.warning), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("line 5"), std::string::npos) << warnings[0];
  }
}

// Every candidate of every key, forced through the tuning table, against the CPU at shapes that are not
// multiples of any tile (rows 1, 3 and 7; N 65; F32's K not a multiple of 8).
TEST_F(Tune, EveryCandidateMatchesTheCpu) {
  BLUECL_REQUIRE_CL();
  ClBackend cl(*cl_device());
  CpuBackend cpu(0, CpuPrecision::Reference);
  ClRuntime& rt = cl.runtime();
  struct Shape {
    DType w;
    int64_t m, k, n;
  };
  const Shape shapes[] = {{DType::Q4_0, 1, 96, 65}, {DType::Q4_0, 3, 64, 65}, {DType::Q4_0, 7, 96, 65},
                          {DType::Q8_0, 1, 64, 65}, {DType::Q8_0, 9, 64, 33}, {DType::F16, 7, 100, 65},
                          {DType::F32, 1, 100, 65}, {DType::F32, 7, 100, 65}};
  int checked = 0;
  for (const Shape& s : shapes) {
    OpBuilder b(static_cast<uint64_t>(s.m * 1000 + s.k + s.n));
    b.g.matmul(b.input("x", {s.m, s.k}), b.weight("w", s.w, {s.n, s.k}), b.input("bias", {s.n}));
    const OpRun ref = run_op(cpu, b, {});
    const ClTuningKey key = ClTuningKey::matmul(s.w, s.m);
    for (const ClLaunch& l : tune_candidates(key, rt.features, false)) {
      rt.tuning.set(key, l);
      const OpRun got = run_op(cl, b, {});
      EXPECT_TRUE(got.guards_intact) << key.str() << " " << l.str();
      EXPECT_EQ(got.non_finite, 0) << key.str() << " " << l.str();
      EXPECT_LE(nmse(got.out.data(), ref.out.data(), static_cast<int64_t>(ref.out.size())), 1e-10)
          << key.str() << " " << l.str();
      ++checked;
    }
    rt.tuning.erase(key);
  }
  for (const ClTuningKey op : {ClTuningKey::rms_norm(), ClTuningKey::layer_norm()}) {
    OpBuilder b(7);
    const Tensor x = b.input("x", {5, 300}), w = b.input("w", {300});
    if (op == ClTuningKey::rms_norm())
      b.g.rms_norm(x, w, 1e-6f);
    else
      b.g.layer_norm(x, w, b.input("b", {300}), 1e-6f);
    const OpRun ref = run_op(cpu, b, {});
    for (const ClLaunch& l : tune_candidates(op, rt.features, false)) {
      rt.tuning.set(op, l);
      const OpRun got = run_op(cl, b, {});
      EXPECT_TRUE(got.guards_intact) << op.str() << " " << l.str();
      EXPECT_LE(nmse(got.out.data(), ref.out.data(), static_cast<int64_t>(ref.out.size())), 1e-10)
          << op.str() << " " << l.str();
      ++checked;
    }
    rt.tuning.erase(op);
  }
  EXPECT_GT(checked, 60);
}

// A kernel that is wrong for some launches (here: 2 outputs per work-item) must never be chosen,
// however fast it is.
TEST_F(Tune, WrongLaunchesAreRejected) {
  BLUECL_REQUIRE_CL();
  const std::string kdir = dir_ + "/kernels";
  std::filesystem::create_directories(kdir);
  for (const auto& e : std::filesystem::directory_iterator(BLUECL_SOURCE_DIR "/cl_kernels"))
    if (e.path().extension() == ".cl")
      std::filesystem::copy(e.path(), kdir + "/" + e.path().filename().string());
  std::string text = read_text(kdir + "/matmul.cl");
  const std::string from = "yb[(size_t)(m0 + i) * N + n0 + j] = sum8(acc[i][j])";
  const size_t pos = text.find(from);
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, from.size(), from + " * (TN == 2 ? 1.5f : 1.0f)");
  std::ofstream(kdir + "/matmul.cl") << text;
  setenv("BLUECL_KERNEL_DIR", kdir.c_str(), 1);

  ClBackend cl(*cl_device(), ClBackendOptions{.profiling = true});
  std::vector<TuneShape> shapes;
  for (DType w : {DType::F32, DType::Q8_0}) shapes.push_back({TuneShape::Op::Matmul, w, 1, 128, 64});
  const std::vector<TuneResult> results = tune(cl, shapes, TuneOptions{.quick = true});
  ASSERT_EQ(results.size(), 2u);
  for (const TuneResult& r : results) {
    int rejected = 0;
    for (const TuneCandidate& c : r.tried) {
      const bool tn2 = c.launch.variant == ClVariant::Gemv && c.launch.p.tn == 2;
      EXPECT_EQ(c.ok, !tn2) << r.key.str() << " " << c.launch.str() << ": " << c.why;
      if (tn2) {
        EXPECT_NE(c.why.find("wrong result"), std::string::npos) << c.why;
      }
      rejected += c.ok ? 0 : 1;
    }
    EXPECT_EQ(rejected, 1) << r.key.str();
    EXPECT_FALSE(r.best.variant == ClVariant::Gemv && r.best.p.tn == 2) << r.key.str();
    EXPECT_GT(r.best_ms, 0.0);
  }
}

// The C API tunes, saves the file in the cache directory, and the next backend on the device reads it.
TEST_F(Tune, SavedChoicesAreUsedByLaterBackends) {
  BLUECL_REQUIRE_CL();
  bluecl_tune_params p = bluecl_tune_default_params();
  p.quick = 1;
  int results = 0;
  p.on_result = [](const bluecl_tune_result* r, void* user) {
    ++*static_cast<int*>(user);
    EXPECT_GT(r->n_tried, 1);
    EXPECT_GT(r->best_ms, 0.0);
  };
  p.result_user = &results;
  char file[1024];
  ASSERT_EQ(bluecl_tune(&p, file, sizeof file), BLUECL_OK) << bluecl_last_error();
  EXPECT_EQ(results, 8);  // q4_0, q8_0, f32 x gemv, gemm; rms_norm; layer_norm
  ASSERT_TRUE(std::filesystem::exists(file)) << file;
  EXPECT_EQ(std::string(file).rfind(dir_, 0), 0u) << "the file lives in the cache directory";

  ClBackend later(*cl_device());
  EXPECT_EQ(later.runtime().tuning_file, std::string(file));
  ClTuning saved;
  ASSERT_TRUE(saved.load(file));
  EXPECT_EQ(later.runtime().tuning.size(), saved.size());

  setenv("BLUECL_TUNING", "off", 1);
  ClBackend untuned(*cl_device());
  unsetenv("BLUECL_TUNING");
  EXPECT_TRUE(untuned.runtime().tuning.empty());
  EXPECT_TRUE(untuned.runtime().tuning_file.empty());

  p.device = "cpu";
  EXPECT_EQ(bluecl_tune(&p, nullptr, 0), BLUECL_ERR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace bluecl::testing
