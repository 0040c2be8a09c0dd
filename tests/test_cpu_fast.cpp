// The CPU backend's fast path (CpuPrecision::Fast) and its thread pool:
//  - every op case of the op table on a Fast backend against the exact (Reference) one, within per-op
//    thresholds: 8-bit activations for quantised matmuls, fp32 rounding for everything else;
//  - the SIMD matmul kernels against their portable scalar versions (same quantisation, so only fp32
//    summation order differs) and against a float64 product, over shapes that hit every tail (odd
//    block counts, rows and columns not multiples of the register tiles, bias);
//  - exp_ps against std::exp;
//  - the thread pool: every index covered once, exceptions reach the caller, back-to-back regions do
//    not block, an idle pool does.
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/simd_math.h"
#include "tests/op_cases.h"
#include "tests/testing.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <stdexcept>
#include <thread>

namespace bluecl::testing {
namespace {

CpuBackend& reference() {
  static CpuBackend be(2, CpuPrecision::Reference);
  return be;
}
CpuBackend& fast() {
  static CpuBackend be(2, CpuPrecision::Fast);
  return be;
}

// How many products with quantised weights the case's op makes that the fast path may run on 8-bit
// activations: each weight matrix of a linear op (matmul, swiglu; graph/ops.def), unless it is a precise
// matmul; 0 for every other op.
int quantised_products(const OpBuilder& b) {
  const Node& n = b.g.nodes().back();
  if (op_info(n.kind).work != WorkRule::Linear) return 0;
  if (n.kind == OpKind::MatMul && n.a<MatMulAttr>().precise) return 0;
  int k = 0;
  for (int i = 1; i < n.n_src; ++i) {
    const TensorInfo& w = b.g.info(n.src[i]);
    k += w.shape.rank == 2 && (w.dtype == DType::Q4_0 || w.dtype == DType::Q8_0);
  }
  return k;
}

class FastOp : public ::testing::TestWithParam<OpCase> {};

TEST_P(FastOp, MatchesReference) {
  const OpCase& c = GetParam();
  OpBuilder b(std::hash<std::string>{}(c.name));
  c.build(b);
  const OpRun ref = run_op(reference(), b, c.step);
  const OpRun got = run_op(fast(), b, c.step);
  EXPECT_TRUE(got.guards_intact) << "the fast path wrote outside its output";
  EXPECT_EQ(got.non_finite, ref.non_finite);
  ASSERT_EQ(got.out.size(), ref.out.size());
  // 8-bit activations on uniform random data: NMSE ~1.5e-5 per matmul (a random error, so a bound with
  // margin), and the errors of a fused op's products add up; everything else, precise quantised matmuls
  // (the ViT's) included, differs from the double reference by fp32 rounding only.
  const int products = quantised_products(b);
  const double limit = products > 0 ? 1e-4 * products : 1e-9;
  EXPECT_LE(nmse(got.out.data(), ref.out.data(), static_cast<int64_t>(ref.out.size())), limit) << c.name;
}

INSTANTIATE_TEST_SUITE_P(All, FastOp, ::testing::ValuesIn(all_op_cases()),
                         [](const ::testing::TestParamInfo<OpCase>& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// Attention shapes the op table does not reach: many key tiles (the online softmax rescales across them),
// several query blocks, causal limits inside a tile, head dims that are not multiples of 16.
TEST(FastAttention, ManyTilesMatchReference) {
  struct S {
    int64_t B, nq, H, Hkv, hd, nkv;
    bool causal;
    DType cache;  // F32 without a cache
    int32_t past;
  };
  const S shapes[] = {
      {1, 130, 4, 2, 72, 130, true, DType::F32, 0},  {2, 150, 3, 3, 40, 200, false, DType::F32, 0},
      {1, 729, 2, 2, 72, 729, false, DType::F32, 0}, {1, 70, 4, 4, 128, 300, true, DType::F16, 100},
      {1, 1, 4, 4, 128, 300, true, DType::F16, 250}, {1, 3, 6, 2, 64, 300, true, DType::Q8_0, 190},
      {1, 33, 6, 2, 64, 300, true, DType::Q8_0, 190}};
  for (const S& s : shapes) {
    OpBuilder b(s.nq * 1000 + s.nkv);
    const AttentionAttr at{
        .scale = 1.0f / std::sqrt(float(s.hd)), .causal = s.causal, .kv_cache = s.past > 0};
    if (s.past == 0) {
      b.g.attention(b.input("q", {s.B, s.nq, s.H, s.hd}, -3, 3),
                    b.input("k", {s.B, s.nkv, s.Hkv, s.hd}, -3, 3), b.input("v", {s.B, s.nkv, s.Hkv, s.hd}),
                    at);
    } else {
      Tensor kc = b.state("kc", s.cache, {s.nkv, s.Hkv, s.hd});
      Tensor vc = b.state("vc", s.cache, {s.nkv, s.Hkv, s.hd});
      b.g.attention(b.input("q", {1, s.nq, s.H, s.hd}, -3, 3), b.g.reshape(kc, {1, s.nkv, s.Hkv, s.hd}),
                    b.g.reshape(vc, {1, s.nkv, s.Hkv, s.hd}), at);
    }
    const OpRun ref = run_op(reference(), b, Step{s.past});
    const OpRun got = run_op(fast(), b, Step{s.past});
    EXPECT_TRUE(got.guards_intact);
    EXPECT_EQ(got.non_finite, 0);
    EXPECT_LE(nmse(got.out.data(), ref.out.data(), static_cast<int64_t>(ref.out.size())), 1e-9)
        << "B" << s.B << " q" << s.nq << " H" << s.H << "/" << s.Hkv << " d" << s.hd << " kv" << s.nkv;
  }
}

// --------------------------------------------------------------------------------- matmul kernels ---

struct MatmulCase {
  DType t;
  int64_t M, K, N;
  bool bias;
};

struct MatmulData {
  std::vector<float> x, bias;
  std::vector<uint8_t> w;
  size_t row;
};

MatmulData make(const MatmulCase& c, uint64_t seed) {
  MatmulData d;
  d.x = random_floats(c.M * c.K, seed, -2.0f, 2.0f);
  for (int64_t i = 0; i < c.M * c.K; i += 97) d.x[i] *= 30.0f;  // a few outliers, as in real activations
  d.bias = random_floats(c.N, seed + 1);
  d.row = dtype_bytes(c.t, c.K);
  d.w.resize(d.row * c.N);
  const std::vector<float> wf = random_floats(c.N * c.K, seed + 2);
  for (int64_t n = 0; n < c.N; ++n) quantize_row(c.t, wf.data() + n * c.K, d.w.data() + n * d.row, c.K);
  return d;
}

std::vector<float> run(bool simd, const MatmulCase& c, const MatmulData& d, cpu::ThreadPool& pool) {
  std::vector<float> y(c.M * c.N, NAN);
  const cpu::MatmulArgs a{d.x.data(), c.M, c.K, c.t, d.w.data(), d.row, c.N, c.bias ? d.bias.data() : nullptr,
                          y.data()};
  const bool q = c.t == DType::Q4_0 || c.t == DType::Q8_0;
  if (simd)
    q ? cpu::qmatmul(pool, a) : cpu::fmatmul(pool, a);
  else
    q ? cpu::scalar::qmatmul(pool, a) : cpu::scalar::fmatmul(pool, a);
  return y;
}

std::vector<float> exact(const MatmulCase& c, const MatmulData& d) {
  std::vector<float> y(c.M * c.N), w(c.K);
  for (int64_t n = 0; n < c.N; ++n) {
    dequantize_row(c.t, d.w.data() + n * d.row, w.data(), c.K);
    for (int64_t m = 0; m < c.M; ++m) {
      double acc = c.bias ? d.bias[n] : 0.0;
      for (int64_t k = 0; k < c.K; ++k) acc += static_cast<double>(d.x[m * c.K + k]) * w[k];
      y[m * c.N + n] = static_cast<float>(acc);
    }
  }
  return y;
}

TEST(FastMatmul, SimdMatchesScalarAndExact) {
  std::vector<MatmulCase> cases;
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::F16, DType::F32})
    for (int64_t M : {1, 2, 5, 7, 13})
      for (int64_t K : {32, 96, 160, 256, 1056})
        for (int64_t N : {1, 3, 17, 70}) cases.push_back({t, M, K, N, (M + N) % 2 == 1});
  cases.push_back({DType::F16, 9, 300, 33, true});  // K not a multiple of 8 (F16/F32 only)
  cases.push_back({DType::F32, 14, 613, 40, false});
  cases.push_back({DType::Q4_0, 130, 512, 300, true});  // several register tiles and weight blocks
  cases.push_back({DType::Q8_0, 67, 2080, 129, false});
  cases.push_back({DType::F16, 70, 700, 150, true});
  cpu::ThreadPool pool(2);
  // Against float64, errors are summed per weight type: a case with one or two outputs near zero says
  // little on its own.
  std::map<DType, std::pair<double, double>> err;  // sum (v - e)^2, sum e^2
  int i = 0;
  for (const MatmulCase& c : cases) {
    const MatmulData d = make(c, 1000 + i++);
    const std::vector<float> s = run(false, c, d, pool), v = run(true, c, d, pool), e = exact(c, d);
    const std::string name =
        fmt::format("{} M{} K{} N{}{}", dtype_name(c.t), c.M, c.K, c.N, c.bias ? " bias" : "");
    for (float f : v) ASSERT_TRUE(std::isfinite(f)) << name;
    EXPECT_LE(nmse(v.data(), s.data(), c.M * c.N), 1e-10) << name << ": SIMD vs scalar";
    for (int64_t j = 0; j < c.M * c.N; ++j) {
      err[c.t].first += (v[j] - static_cast<double>(e[j])) * (v[j] - static_cast<double>(e[j]));
      err[c.t].second += static_cast<double>(e[j]) * e[j];
    }
  }
  for (const auto& [t, e] : err) {
    // 8-bit activations with outliers (a block holding one keeps fewer bits for its other elements).
    const bool q = t == DType::Q4_0 || t == DType::Q8_0;
    EXPECT_LE(e.first / e.second, q ? 2e-4 : 1e-11) << dtype_name(t) << ": SIMD vs float64";
    std::printf("  %-5s fast matmul NMSE vs float64: %.3g\n", std::string(dtype_name(t)).c_str(),
                e.first / e.second);
  }
}

// A matmul must not depend on how many threads run it.
TEST(FastMatmul, ThreadCountInvariant) {
  const MatmulCase c{DType::Q4_0, 9, 640, 77, true};
  const MatmulData d = make(c, 5);
  cpu::ThreadPool one(1), three(3);
  EXPECT_EQ(run(true, c, d, one), run(true, c, d, three));
  const MatmulCase g{DType::Q8_0, 1, 640, 77, false};
  const MatmulData dg = make(g, 6);
  EXPECT_EQ(run(true, g, dg, one), run(true, g, dg, three));
}

// ----------------------------------------------------------------------------------------- exp ---

// Through the library (compiled for the machine), not this file (compiled without -march=native).
TEST(SimdMath, ExpMatchesStd) {
  std::vector<float> in, out;
  for (float x = -87.0f; x < 88.5f; x += 0.0013f) in.push_back(x);
  out.resize(in.size());
  cpu::exp_array(in.data(), out.data(), static_cast<int64_t>(in.size()));
  double worst = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const double e = std::exp(static_cast<double>(in[i]));
    worst = std::max(worst, std::abs(out[i] - e) / e);
  }
  EXPECT_LT(worst, 3e-7);
  const std::vector<float> edge = {-INFINITY, -200.0f, -87.5f, 0.0f, 89.0f, INFINITY, 1.0f, -1.0f, 2.0f};
  out.resize(edge.size());
  cpu::exp_array(edge.data(), out.data(), static_cast<int64_t>(edge.size()));
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_FLOAT_EQ(out[3], 1.0f);
  EXPECT_EQ(out[4], INFINITY);
  EXPECT_EQ(out[5], INFINITY);
  EXPECT_NEAR(out[6], std::exp(1.0f), 1e-6);
  EXPECT_NEAR(out[7], std::exp(-1.0f), 1e-7);
  EXPECT_NEAR(out[8], std::exp(2.0f), 1e-6);  // the scalar tail of an array of 9
}

// --------------------------------------------------------------------------------- thread pool ---

TEST(ThreadPool, CoversEveryIndexOnce) {
  cpu::ThreadPool pool(3);
  for (int64_t n : {1, 2, 3, 7, 100, 4097}) {
    for (int64_t grain : {1, 4, 64}) {
      std::vector<std::atomic<int>> hits(n);
      for (int rep = 0; rep < 50; ++rep)
        pool.parallel_for(
            n,
            [&](int64_t i0, int64_t i1, int) {
              EXPECT_EQ(i0 % grain, 0);
              for (int64_t i = i0; i < i1; ++i) hits[i]++;
            },
            grain);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 50) << "n " << n << " index " << i;
    }
  }
}

TEST(ThreadPool, ExceptionsReachTheCaller) {
  cpu::ThreadPool pool(2);
  for (int thrower : {0, 1}) {
    EXPECT_THROW(pool.parallel_for(100,
                                   [&](int64_t, int64_t, int t) {
                                     if (t == thrower) throw std::runtime_error("boom");
                                   }),
                 std::runtime_error);
  }
  int64_t sum = 0;  // still usable afterwards
  std::vector<int64_t> part(2);
  pool.parallel_for(100, [&](int64_t i0, int64_t i1, int t) {
    for (int64_t i = i0; i < i1; ++i) part[t] += i;
  });
  sum = part[0] + part[1];
  EXPECT_EQ(sum, 4950);
}

TEST(ThreadPool, SpinsBetweenRegionsAndSleepsWhenIdle) {
  // A spin far longer than any scheduling hiccup, so that the count is robust on a loaded machine.
  cpu::ThreadPool pool(2, 200'000);
  std::atomic<int64_t> total{0};
  auto region = [&] { pool.parallel_for(2, [&](int64_t i0, int64_t i1, int) { total += i1 - i0; }); };
  region();
  const uint64_t before = pool.blocked_waits();
  for (int i = 0; i < 300; ++i) region();  // back to back: nobody blocks
  EXPECT_EQ(total.load(), 2 * 301);
  EXPECT_EQ(pool.blocked_waits(), before);
  // Idle for longer than the spin: the worker blocks (and so burns no CPU).
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_GT(pool.blocked_waits(), before);
  region();  // and wakes up again
  EXPECT_EQ(total.load(), 2 * 302);
}

}  // namespace
}  // namespace bluecl::testing
