#include "bench/bench_cases.h"

#include <fmt/format.h>

#include <cmath>

namespace bluecl::bench {

namespace {

BenchCase matmul(const char* what, DType wt, int64_t m, int64_t k, int64_t n) {
  BenchCase c;
  c.op = {fmt::format("matmul/{}/{}/M{}", what, dtype_name(wt), m),
          [=](testing::OpBuilder& b) {
            b.g.matmul(b.input("x", {m, k}), b.weight("w", wt, {n, k}, -0.05f, 0.05f));
          },
          1e-8};
  c.bytes = static_cast<double>(dtype_bytes(wt, n * k)) + 4.0 * (m * k + m * n);
  c.flops = 2.0 * m * k * n;
  c.check_cpu = 2.0 * m * k * n < 6e10;  // the reference takes seconds beyond this
  // Decode: enough distinct weights for 96 MiB per iteration, three times a 32 MiB L3 (and more than any
  // phone's system cache), as a model's layers stream from memory one after another.
  if (m <= 4) {
    constexpr double kStream = 96.0 * 1024 * 1024;
    c.copies = static_cast<int>(std::ceil(kStream / static_cast<double>(dtype_bytes(wt, n * k))));
  }
  c.bytes *= c.copies;
  c.flops *= c.copies;
  return c;
}

BenchCase attention(const char* what, int64_t nq, int64_t n_kv, int64_t H, int64_t Hkv, int64_t hd, DType kv,
                    bool cache, int64_t batch = 1) {
  BenchCase c;
  const int32_t past = cache ? static_cast<int32_t>(n_kv - nq) : 0;
  c.op = {
      fmt::format("attention/{}/{}", what, dtype_name(kv)),
      [=](testing::OpBuilder& b) {
        const AttentionAttr at{.scale = 1.0f / std::sqrt(float(hd)), .causal = cache, .kv_cache = cache};
        Tensor q = b.input("q", {batch, nq, H, hd});
        if (cache) {
          Tensor kc = b.state("kc", kv, {n_kv, Hkv, hd});
          Tensor vc = b.state("vc", kv, {n_kv, Hkv, hd});
          b.g.attention(q, b.g.reshape(kc, {1, n_kv, Hkv, hd}), b.g.reshape(vc, {1, n_kv, Hkv, hd}), at);
        } else {
          b.g.attention(q, b.input("k", {batch, n_kv, Hkv, hd}), b.input("v", {batch, n_kv, Hkv, hd}), at);
        }
      },
      1e-8, Step{past}};
  c.bytes = 2.0 * dtype_bytes(kv, batch * n_kv * Hkv * hd) + 8.0 * batch * nq * H * hd;
  c.flops = 4.0 * batch * nq * n_kv * H * hd * (cache ? 0.5 + 0.5 * double(past) / n_kv : 1.0);
  return c;
}

BenchCase rowwise(std::string name, std::function<void(testing::OpBuilder&)> build, double bytes,
                  double flops) {
  return {{std::move(name), std::move(build), 1e-8}, bytes, flops};
}

}  // namespace

std::vector<BenchCase> bench_cases() {
  std::vector<BenchCase> v;
  struct Mat {
    const char* what;
    int64_t k, n;  // x [M, k] @ W[n, k]^T
  };
  const Mat llm[] = {{"2560x2560", 2560, 2560},
                     {"2560x6912", 2560, 6912},
                     {"6912x2560", 6912, 2560},
                     {"2560x32000", 2560, 32000}};
  for (int64_t m : {1, 128, 2048})
    for (const Mat& mt : llm) v.push_back(matmul(mt.what, DType::Q4_0, m, mt.k, mt.n));
  for (const Mat& mt : llm) v.push_back(matmul(mt.what, DType::Q8_0, 1, mt.k, mt.n));
  // The ViT's FFN at one tile and at a batch of four (Q8_0, and F16 for FFN-down's 4304 inputs).
  for (int64_t m : {729, 4 * 729}) {
    v.push_back(matmul("vit-1152x4304", DType::Q8_0, m, 1152, 4304));
    v.push_back(matmul("vit-4304x1152", DType::F16, m, 4304, 1152));
  }
  v.push_back(attention("decode-2048cached", 1, 2048, 20, 20, 128, DType::F16, true));
  v.push_back(attention("decode-2048cached", 1, 2048, 20, 20, 128, DType::Q8_0, true));
  v.push_back(attention("prefill128-2048cached", 128, 2048, 20, 20, 128, DType::F16, true));
  v.push_back(attention("vit-729", 729, 729, 16, 16, 72, DType::F32, false));
  v.push_back(rowwise(
      "rms_norm/2560/M1",
      [](testing::OpBuilder& b) {
        b.g.rms_norm(b.input("x", {1, 2560}), b.input("w", {2560}), 1e-6f);
      },
      3 * 4.0 * 2560, 3.0 * 2560));
  v.push_back(rowwise(
      "rms_norm/2560/M128",
      [](testing::OpBuilder& b) {
        b.g.rms_norm(b.input("x", {128, 2560}), b.input("w", {2560}), 1e-6f);
      },
      4.0 * 2560 * 257, 3.0 * 2560 * 128));
  v.push_back(rowwise(
      "layer_norm/1152/M729",
      [](testing::OpBuilder& b) {
        b.g.layer_norm(b.input("x", {729, 1152}), b.input("w", {1152}), b.input("b", {1152}), 1e-6f);
      },
      4.0 * 1152 * 1460, 8.0 * 1152 * 729));
  v.push_back(rowwise(
      "rope/20x128/T128",
      [](testing::OpBuilder& b) {
        b.g.rope(b.input("x", {128, 20, 128}), {RopeMode::Adjacent, 128, 1e4f});
      },
      8.0 * 128 * 20 * 128, 6.0 * 128 * 20 * 128));
  v.push_back(rowwise(
      "silu_mul/6912/M128",
      [](testing::OpBuilder& b) {
        b.g.silu_mul(b.input("g", {128, 6912}), b.input("u", {128, 6912}));
      },
      12.0 * 128 * 6912, 5.0 * 128 * 6912));
  return v;
}

}  // namespace bluecl::bench
