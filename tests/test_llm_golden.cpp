// The language model against the golden references: teacher-forced logits of every golden LLM file,
// on the CPU backend and on the OpenCL device, with chunk sizes 1, 7, 128 and the whole sequence, match
// the float64 evaluation (`.exact`) and llama.cpp (`.llamacpp`) within the golden README's tolerances;
// all placements and chunkings agree with each other; greedy generation is identical on CPU and OpenCL.
#include "backend/cl/cl_backend.h"
#include "backend/cl/cl_runtime.h"
#include "host/model/llm_model.h"
#include "host/session/sampler.h"
#include "host/session/session.h"
#include "tests/cl_testing.h"
#include "tests/golden.h"
#include "tests/testing.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace bluecl::testing {
namespace {

struct File {
  const char* stem;
  bool has_llamacpp;
};
const File kFiles[] = {{"tiny-a-f32", true},
                       {"tiny-a-f16", true},
                       {"tiny-a-q8_0", true},
                       {"tiny-a-q4_0", true},
                       {"tiny-c-bluelm-q4_0", false}};

const LlmModel& model(const std::string& stem) {
  return golden_llm(stem);
}

// The exact CPU backend (and the CPU half of a CPU + OpenCL placement): every check below but GoldenFast.
Devices& devices(bool cl) {
  return exact_devices(cl);
}

// The CPU backend as inference runs it (CpuPrecision::Fast).
Devices& fast_devices() {
  static Devices d({.device = "cpu", .n_threads = 2, .cpu_precision = CpuPrecision::Fast});
  return d;
}

std::vector<float> teacher_forced(Devices& dev, const std::string& stem, int64_t chunk, DType kv) {
  Session s(model(stem), dev, {.n_ctx = 256, .n_chunk = chunk, .kv_type = kv, .all_logits = true});
  const std::vector<int32_t> toks = read_golden_tokens(data_path("golden/" + stem + ".tokens.json")).all();
  s.prefill(toks);
  return s.all_logits();
}
std::vector<float> teacher_forced(const std::string& stem, bool cl, int64_t chunk, DType kv) {
  return teacher_forced(devices(cl), stem, chunk, kv);
}

struct Case {
  std::string stem;
  bool cl;
  int64_t chunk;  // 0: the whole sequence in one chunk
  bool has_llamacpp;
};

std::vector<Case> cases() {
  std::vector<Case> v;
  for (const File& f : kFiles)
    for (bool cl : {false, true})
      for (int64_t chunk : {1, 7, 128, 0}) v.push_back({f.stem, cl, chunk, f.has_llamacpp});
  return v;
}

class Golden : public ::testing::TestWithParam<Case> {};

TEST_P(Golden, TeacherForcedLogits) {
  const Case& c = GetParam();
  if (c.cl) BLUECL_REQUIRE_CL();
  const int64_t n_vocab = model(c.stem).hparams().n_vocab;
  const int64_t chunk = c.chunk > 0 ? c.chunk : 1 << 20;
  const std::vector<float> got = teacher_forced(c.stem, c.cl, chunk, DType::F32);
  const Agreement ex =
      compare_logits(got, read_f32(data_path("golden/" + c.stem + ".exact.logits.f32")), n_vocab);
  // fp32 activations and KV cache: NMSE <= 1e-6 and every top-1 matches (golden README).
  EXPECT_LE(ex.nmse, 1e-6);
  EXPECT_EQ(ex.top1, 1.0);
  RecordProperty("nmse_exact", std::to_string(ex.nmse));
  if (c.has_llamacpp) {
    const Agreement lc =
        compare_logits(got, read_f32(data_path("golden/" + c.stem + ".llamacpp.logits.f32")), n_vocab);
    EXPECT_LE(lc.nmse, 2e-3);
    RecordProperty("nmse_llamacpp", std::to_string(lc.nmse));
  }
  // Every placement and chunking computes the same thing: compare with the CPU, one chunk of 7.
  if (c.cl || c.chunk != 7) {
    const std::vector<float> ref = teacher_forced(c.stem, false, 7, DType::F32);
    EXPECT_LE(nmse(got.data(), ref.data(), static_cast<int64_t>(ref.size())), 1e-9);
  }
  std::printf("  %-20s %-4s chunk %-5s NMSE vs exact %.3g (top-1 %.1f%%)\n", c.stem.c_str(),
              c.cl ? "cl" : "cpu", c.chunk ? std::to_string(c.chunk).c_str() : "all", ex.nmse, 100 * ex.top1);
}

INSTANTIATE_TEST_SUITE_P(All, Golden, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string n = info.param.stem + (info.param.cl ? "_cl_" : "_cpu_") +
                  (info.param.chunk ? "chunk" + std::to_string(info.param.chunk) : "whole");
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

// Smaller KV caches: fp16 (<= 1e-4, top-1 >= 98%) and 8-bit (<= 2e-3, top-1 >= 95%) against exact.
TEST(GoldenKv, ReducedPrecisionCaches) {
  for (bool cl : {false, true}) {
    if (cl && !cl_device()) continue;
    for (const File& f : kFiles) {
      const int64_t n_vocab = model(f.stem).hparams().n_vocab;
      const std::vector<float> exact =
          read_f32(data_path(std::string("golden/") + f.stem + ".exact.logits.f32"));
      const Agreement h = compare_logits(teacher_forced(f.stem, cl, 7, DType::F16), exact, n_vocab);
      EXPECT_LE(h.nmse, 1e-4) << f.stem;
      EXPECT_GE(h.top1, 0.98) << f.stem;
      const Agreement q = compare_logits(teacher_forced(f.stem, cl, 7, DType::Q8_0), exact, n_vocab);
      EXPECT_LE(q.nmse, 2e-3) << f.stem;
      EXPECT_GE(q.top1, 0.95) << f.stem;
      std::printf("  %-20s %-4s kv f16 NMSE %.3g (top-1 %.1f%%), kv q8_0 NMSE %.3g (top-1 %.1f%%)\n", f.stem,
                  cl ? "cl" : "cpu", h.nmse, 100 * h.top1, q.nmse, 100 * q.top1);
    }
  }
}

// The GPU-style kernel variants through whole models on the OpenCL device, each at the golden row of its
// precision: fp32 variants (vec, vec_sg, tile, cols, flash and split attention) NMSE <= 1e-6 and every top-1;
// fp16 products (vec_h, tile_h) <= 1e-4 and top-1 >= 98%; 8-bit activations (tile_dot) <= 2e-3 and top-1
// >= 90% (as GoldenFast: 95% is a coin flip at this size). Chunk 1 runs the decode variants, chunk 7 the
// GEMM ones. A variant the device lacks is reported and skipped.
TEST(GoldenVariants, TeacherForcedLogits) {
  if (!cl_device()) GTEST_SKIP() << "no OpenCL device";
  Devices& dev = devices(true);
  ClBackend* cl = nullptr;
  for (Backend* b : dev.backends())
    if (b->kind() == DeviceKind::OpenCl) cl = static_cast<ClBackend*>(b);
  ASSERT_NE(cl, nullptr);
  const DeviceFeatures& f = cl->features();
  struct V {
    const char* matmul;
    const char* attention;
    int64_t chunk;
    int precision;  // 0 fp32, 1 fp16, 2 8-bit
    bool available;
  };
  const V variants[] = {
      {"vec", "split", 1, 0, true},      {"vec_sg", "split", 1, 0, !f.required_subgroup_sizes.empty()},
      {"tile", "flash", 7, 0, true},     {"vec_h", "flash", 1, 1, f.fp16},
      {"tile_h", "flash", 7, 1, f.fp16}, {"tile_dot", "stream", 7, 2, f.int_dot},
      {"cols", "stream", 7, 0, true}};
  int ran = 0;
  for (const V& v : variants) {
    if (!v.available) {
      std::printf("  SKIPPED matmul=%s: the device lacks what it needs\n", v.matmul);
      continue;
    }
    cl->runtime().force_variant("matmul", v.matmul);
    cl->runtime().force_variant("attention", v.attention);
    for (const File& file : kFiles) {
      const int64_t n_vocab = model(file.stem).hparams().n_vocab;
      const std::vector<float> exact =
          read_f32(data_path(std::string("golden/") + file.stem + ".exact.logits.f32"));
      const Agreement e = compare_logits(teacher_forced(dev, file.stem, v.chunk, DType::F32), exact, n_vocab);
      const std::string what =
          fmt::format("{} matmul={} attention={} chunk {}", file.stem, v.matmul, v.attention, v.chunk);
      EXPECT_LE(e.nmse, v.precision == 0 ? 1e-6 : v.precision == 1 ? 1e-4 : 2e-3) << what;
      EXPECT_GE(e.top1, v.precision == 0 ? 1.0 : v.precision == 1 ? 0.98 : 0.90) << what;
      std::printf("  %-52s NMSE vs exact %.3g (top-1 %.1f%%)\n", what.c_str(), e.nmse, 100 * e.top1);
    }
    ++ran;
  }
  cl->runtime().force_variant("matmul", "");
  cl->runtime().force_variant("attention", "");
  EXPECT_GE(ran, 2) << "the portable fp32 variants (vec, tile) always run";
}

// Rows where `got` picks another token than `ref`, with ref's margin between its top two logits.
std::vector<double> top1_misses(const std::vector<float>& got, const std::vector<float>& ref,
                                int64_t n_vocab) {
  std::vector<double> margins;
  for (size_t r = 0; r < ref.size() / n_vocab; ++r) {
    const float* g = got.data() + r * n_vocab;
    const float* f = ref.data() + r * n_vocab;
    const int64_t gi = std::max_element(g, g + n_vocab) - g, fi = std::max_element(f, f + n_vocab) - f;
    if (gi == fi) continue;
    float second = -INFINITY;
    for (int64_t i = 0; i < n_vocab; ++i)
      if (i != fi) second = std::max(second, f[i]);
    margins.push_back(f[fi] - second);
  }
  return margins;
}

// The fast CPU backend, teacher-forced, one token at a time (the GEMV kernels) and in chunks of 7 and 128
// (the GEMM kernels, which cover the whole sequence in one chunk), with an fp16 cache (the CPU default)
// and an fp32 one. F32/F16 matrices keep fp32 activations: with the fp16 cache they meet the README's
// "fp16 KV cache" row, with the fp32 cache its fp32 row (NMSE <= 1e-6, every top-1).
// Quantised matrices take 8-bit activations: the "8-bit activations" row's NMSE (<= 2e-3), and within
// 2e-3 of llama.cpp, which computes the same way. Its top-1 >= 95% is not a usable test for an 8-bit
// engine on these files: their logits differ from exact by ~0.12 rms (tiny-a-q4_0) and many rows have
// top-2 margins below that, so top-1 lands anywhere in 93-98% with the fp32 rounding order (llama.cpp
// scores 95.5%, one row from failing; simulating the noise gives a 60% chance of >= 95%). Instead, every
// disagreement must be a near-tie: the exact margin below 4x this run's rms logit error (a real error
// moves rows with wide margins too), and top-1 must stay >= 90%.
TEST(GoldenFast, TeacherForcedLogits) {
  for (const File& f : kFiles) {
    const int64_t n_vocab = model(f.stem).hparams().n_vocab;
    const std::vector<float> exact =
        read_f32(data_path(std::string("golden/") + f.stem + ".exact.logits.f32"));
    const bool quantised = std::string(f.stem).find("q8_0") != std::string::npos ||
                           std::string(f.stem).find("q4_0") != std::string::npos;
    double exact_ms = 0;  // mean square of the exact logits
    for (float v : exact) exact_ms += static_cast<double>(v) * v;
    exact_ms /= static_cast<double>(exact.size());
    for (DType kv : {DType::F16, DType::F32}) {
      for (int64_t chunk : {1, 7, 128}) {
        const std::string what = fmt::format("{} kv {} chunk {}", f.stem, dtype_name(kv), chunk);
        const std::vector<float> got = teacher_forced(fast_devices(), f.stem, chunk, kv);
        const Agreement e = compare_logits(got, exact, n_vocab);
        if (quantised) {
          EXPECT_LE(e.nmse, 2e-3) << what;
          EXPECT_GE(e.top1, 0.90) << what;
          const double near_tie = 4 * std::sqrt(e.nmse * exact_ms);
          for (double m : top1_misses(got, exact, n_vocab))
            EXPECT_LE(m, near_tie) << what << ": a clear top-1 lost";
        } else {
          EXPECT_LE(e.nmse, kv == DType::F16 ? 1e-4 : 1e-6) << what;
          EXPECT_GE(e.top1, kv == DType::F16 ? 0.98 : 1.0) << what;
        }
        double vs_llamacpp = 0;
        if (f.has_llamacpp) {
          const std::vector<float> lc =
              read_f32(data_path(std::string("golden/") + f.stem + ".llamacpp.logits.f32"));
          vs_llamacpp = compare_logits(got, lc, n_vocab).nmse;
          EXPECT_LE(vs_llamacpp, 2e-3) << what;
        }
        std::printf(
            "  %-20s fast kv %-4s chunk %-4lld NMSE vs exact %.3g (top-1 %.1f%%), vs llama.cpp %.3g\n",
            f.stem, std::string(dtype_name(kv)).c_str(), static_cast<long long>(chunk), e.nmse, 100 * e.top1,
            vs_llamacpp);
      }
    }
  }
}

std::vector<int32_t> greedy(const std::string& stem, bool cl, int n) {
  Session s(model(stem), devices(cl), {.n_ctx = 256, .kv_type = DType::F32});
  s.prefill(read_golden_tokens(data_path("golden/" + stem + ".tokens.json")).prompt);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(argmax(s.logits()));
    s.decode(out.back());
  }
  return out;
}

TEST(GoldenGreedy, CpuAndOpenClAgree) {
  BLUECL_REQUIRE_CL();
  for (const File& f : kFiles) EXPECT_EQ(greedy(f.stem, false, 48), greedy(f.stem, true, 48)) << f.stem;
}

// Every decode token launches the same kernels, each exactly once (the dry launches of prepare are not
// counted): a steady count per token that the host time per launch (bluecl_microbench's host/ cases)
// multiplies into the host overhead of a token. Printed per file.
TEST(DecodeLaunches, SameCountEveryToken) {
  BLUECL_REQUIRE_CL();
  Devices& dev = devices(true);
  ClBackend* cl = nullptr;
  for (Backend* b : dev.backends())
    if (b->kind() == DeviceKind::OpenCl) cl = static_cast<ClBackend*>(b);
  ASSERT_NE(cl, nullptr);
  for (const File& f : kFiles) {
    Session s(model(f.stem), dev, {.n_ctx = 256, .kv_type = DType::F32});
    s.prefill(read_golden_tokens(data_path("golden/" + std::string(f.stem) + ".tokens.json")).prompt);
    std::vector<uint64_t> per_token;
    for (int i = 0; i < 4; ++i) {
      const int32_t tok = argmax(s.logits());
      const uint64_t before = cl->runtime().launches;
      s.decode(tok);
      per_token.push_back(cl->runtime().launches - before);
    }
    const int64_t n_layer = model(f.stem).hparams().n_layer;
    EXPECT_GE(per_token[0], static_cast<uint64_t>(8 * n_layer))
        << f.stem << ": the layers' ops run on the device";
    for (uint64_t n : per_token) EXPECT_EQ(n, per_token[0]) << f.stem;
    std::printf("  %-20s %llu kernel launches per decode token (%lld layers)\n", f.stem,
                static_cast<unsigned long long>(per_token[0]), static_cast<long long>(n_layer));
  }
}

// Our greedy choice at each step equals the float64 reference's argmax for as long as our continuation
// still equals the golden one (the exact logits are for that sequence). llama.cpp's continuation may
// leave ours at a near-tie (its fp16 rounding), which the golden README expects: at that step too our
// token must be the float64 reference's argmax. The float64 reference's own argmax follows the golden
// continuation for ref_same steps (15 to 32 in the golden files); ours must follow it at least as far, and
// at least kMinGreedySteps steps must be compared, so a short or diverging file cannot pass unnoticed.
constexpr size_t kMinGreedySteps = 16;

TEST(GoldenGreedy, MatchesReferenceContinuation) {
  for (const File& f : kFiles) {
    const GoldenTokens t = read_golden_tokens(data_path(std::string("golden/") + f.stem + ".tokens.json"));
    const std::vector<float> exact =
        read_f32(data_path(std::string("golden/") + f.stem + ".exact.logits.f32"));
    const int64_t n_vocab = model(f.stem).hparams().n_vocab;
    ASSERT_GE(t.generated.size(), kMinGreedySteps) << f.stem;
    ASSERT_EQ(exact.size(), (t.prompt.size() + t.generated.size()) * size_t(n_vocab)) << f.stem;
    auto exact_argmax = [&](size_t i) {  // the reference's choice after prompt + generated[0..i)
      const size_t row = t.prompt.size() - 1 + i;
      return argmax(std::vector<float>(exact.begin() + row * n_vocab, exact.begin() + (row + 1) * n_vocab));
    };
    const std::vector<int32_t> got = greedy(f.stem, false, static_cast<int>(t.generated.size()));
    size_t same = 0, ref_same = 0;
    while (same < got.size() && got[same] == t.generated[same]) ++same;
    while (ref_same < t.generated.size() && exact_argmax(ref_same) == t.generated[ref_same]) ++ref_same;
    for (size_t i = 0; i <= same && i < got.size(); ++i)
      EXPECT_EQ(got[i], exact_argmax(i)) << f.stem << " step " << i;
    EXPECT_GE(same, ref_same) << f.stem << ": left the golden continuation before the float64 reference does";
    EXPECT_GE(std::min(same + 1, got.size()), kMinGreedySteps) << f.stem << ": too few steps compared";
    std::printf(
        "  %-20s greedy continuation equals the golden one for %zu of %zu tokens (float64 reference: %zu)\n",
        f.stem, same, got.size(), ref_same);
  }
}

}  // namespace
}  // namespace bluecl::testing
