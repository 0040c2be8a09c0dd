#include "tests/op_cases.h"

#include <fmt/format.h>

#include <cmath>

namespace bluecl::testing {

namespace {

// Thresholds: elementwise ops agree to rounding; reductions and dot products accumulate in float on
// the device and in double on the CPU; a broken kernel lands near 1.
constexpr double kExact = 1e-12;
constexpr double kElementwise = 1e-10;
constexpr double kReduce = 1e-9;
constexpr double kDot = 1e-8;

void add_matmul(std::vector<OpCase>& cases) {
  struct S {
    int64_t m, k, n;
  };
  const S shapes[] = {{1, 64, 33}, {1, 256, 130}, {2, 96, 17}, {3, 160, 65}, {5, 128, 9},
                      {7, 288, 70}, {33, 64, 48},  {129, 96, 31}, {16, 512, 256}};
  for (DType wt : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0}) {
    for (const S& s : shapes) {
      for (bool bias : {false, true}) {
        if (bias && s.m % 2 == 0) continue;  // bias on half the shapes is enough
        cases.push_back({fmt::format("matmul/{}/M{}xK{}xN{}{}", dtype_name(wt), s.m, s.k, s.n, bias ? "+bias" : ""),
                         [=](OpBuilder& b) {
                           Tensor x = b.input("x", {s.m, s.k});
                           Tensor w = b.weight("w", wt, {s.n, s.k});
                           Tensor bb = bias ? b.input("b", {s.n}) : Tensor{};
                           b.g.matmul(x, w, bb);
                         },
                         kDot});
      }
    }
    // Both variants on shapes where each is not the default.
    for (const char* v : {"gemv", "tiled"}) {
      cases.push_back({fmt::format("matmul/{}/M9xK192xN37/{}", dtype_name(wt), v),
                       [=](OpBuilder& b) { b.g.matmul(b.input("x", {9, 192}), b.weight("w", wt, {37, 192})); },
                       kDot, {}, "matmul", v});
    }
  }
  // F32/F16 rows not a multiple of 8 or 32 (the ViT's patch embedding has K = 588).
  for (DType wt : {DType::F32, DType::F16})
    for (int64_t k : {37, 588}) {
      cases.push_back({fmt::format("matmul/{}/M6xK{}xN21", dtype_name(wt), k),
                       [=](OpBuilder& b) { b.g.matmul(b.input("x", {6, k}), b.weight("w", wt, {21, k}), b.input("b", {21})); },
                       kDot});
      cases.push_back({fmt::format("matmul/{}/M1xK{}xN21", dtype_name(wt), k),
                       [=](OpBuilder& b) { b.g.matmul(b.input("x", {1, k}), b.weight("w", wt, {21, k})); }, kDot});
    }
  // A row range of a larger tensor as input (offset views).
  cases.push_back({"matmul/f32/view-rows", [](OpBuilder& b) {
                     Tensor x = b.input("x", {10, 64});
                     b.g.matmul(b.g.rows(x, 3, 5), b.weight("w", DType::Q4_0, {19, 64}));
                   },
                   kDot});
}

void add_elementwise(std::vector<OpCase>& cases) {
  const Shape shapes[] = {{1, 1}, {3, 37}, {17, 64}, {2, 5, 129}};
  for (const Shape& s : shapes) {
    const std::string sz = s.str();
    cases.push_back({"add/same" + sz, [=](OpBuilder& b) { b.g.add(b.input("a", s), b.input("b", s)); }, kExact});
    cases.push_back({"add/row" + sz, [=](OpBuilder& b) { b.g.add(b.input("a", s), b.input("b", {s.last()})); }, kExact});
    cases.push_back({"mul/same" + sz, [=](OpBuilder& b) { b.g.mul(b.input("a", s), b.input("b", s)); }, kExact});
    cases.push_back({"mul/row" + sz, [=](OpBuilder& b) { b.g.mul(b.input("a", s), b.input("b", {s.last()})); }, kExact});
    cases.push_back({"scale/" + sz, [=](OpBuilder& b) { b.g.scale(b.input("x", s), -0.37f); }, kExact});
    cases.push_back({"silu_mul/" + sz, [=](OpBuilder& b) { b.g.silu_mul(b.input("g", s, -6, 6), b.input("u", s)); },
                     kElementwise});
    cases.push_back({"gelu/tanh" + sz, [=](OpBuilder& b) { b.g.gelu(b.input("x", s, -5, 5), GeluMode::Tanh); },
                     kElementwise});
    cases.push_back({"gelu/erf" + sz, [=](OpBuilder& b) { b.g.gelu(b.input("x", s, -5, 5), GeluMode::Erf); },
                     kElementwise});
  }
}

void add_norms(std::vector<OpCase>& cases) {
  const Shape shapes[] = {{1, 37}, {5, 256}, {3, 2560}, {2, 3, 96}};
  for (const Shape& s : shapes) {
    for (const char* v : {"row", "wg"}) {
      cases.push_back({fmt::format("rms_norm/w{}/{}", s.str(), v),
                       [=](OpBuilder& b) { b.g.rms_norm(b.input("x", s), b.input("w", {s.last()}), 1e-5f); }, kReduce,
                       {}, "rms_norm", v});
      cases.push_back({fmt::format("rms_norm/now{}/{}", s.str(), v),
                       [=](OpBuilder& b) { b.g.rms_norm(b.input("x", s, 2, 3), {}, 1e-6f); }, kReduce, {}, "rms_norm", v});
    }
  }
}

}  // namespace

std::vector<OpCase> all_op_cases() {
  std::vector<OpCase> cases;
  add_matmul(cases);
  add_elementwise(cases);
  add_norms(cases);
  return cases;
}

}  // namespace bluecl::testing
