#include "tests/op_cases.h"

#include <fmt/format.h>

#include <cmath>
#include <ostream>
#include <string_view>
#include <vector>

namespace bluecl::testing {

void PrintTo(const OpCase& c, std::ostream* os) {
  *os << c.name;
}

namespace {

// Thresholds: elementwise ops agree to rounding; reductions and dot products accumulate in float on
// the device and in double on the CPU; a broken kernel lands near 1.
constexpr double kExact = 1e-12;
constexpr double kElementwise = 1e-10;
constexpr double kReduce = 1e-9;
constexpr double kDot = 1e-8;
// fp16 products with fp32 accumulation across blocks: ~2^-11 per product, sums of 32 in half.
constexpr double kHalfDot = 1e-5;
// Activations rounded to 8 bits per 32-value block: NMSE ~1e-5 against the exact product.
constexpr double kInt8Dot = 1e-4;

void add_matmul(std::vector<OpCase>& cases) {
  struct S {
    int64_t m, k, n;
  };
  const S shapes[] = {{1, 64, 33},  {1, 256, 130}, {2, 96, 17},   {3, 160, 65},  {5, 128, 9},
                      {7, 288, 70}, {33, 64, 48},  {129, 96, 31}, {16, 512, 256}};
  for (DType wt : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0}) {
    for (const S& s : shapes) {
      for (bool bias : {false, true}) {
        if (bias && s.m % 2 == 0) continue;  // bias on half the shapes is enough
        cases.push_back(
            {fmt::format("matmul/{}/M{}xK{}xN{}{}", dtype_name(wt), s.m, s.k, s.n, bias ? "+bias" : ""),
             [=](OpBuilder& b) {
               Tensor x = b.input("x", {s.m, s.k});
               Tensor w = b.weight("w", wt, {s.n, s.k});
               Tensor bb = bias ? b.input("b", {s.n}) : Tensor{};
               b.g.matmul(x, w, bb);
             },
             kDot});
      }
    }
    // Every variant on shapes where each is not the default.
    for (const char* v : {"gemv", "tiled"}) {
      cases.push_back({fmt::format("matmul/{}/M9xK192xN37/{}", dtype_name(wt), v),
                       [=](OpBuilder& b) {
                         b.g.matmul(b.input("x", {9, 192}), b.weight("w", wt, {37, 192}));
                       },
                       kDot,
                       {},
                       "matmul",
                       v});
    }
  }
  // The GPU-style variants at odd shapes: GEMV for 1-4 rows of x (N not a multiple of the rows per group,
  // float K not a multiple of the 16-byte chunk), GEMM tiles over M and N not multiples of the tile.
  struct V {
    int64_t m, k, n;
  };
  for (DType wt : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0}) {
    const bool quant = wt == DType::Q8_0 || wt == DType::Q4_0;
    const std::vector<V> few = {
        {1, 256, 33}, {2, 96, 130}, {3, 1152, 37}, {4, 64, 5}, {1, quant ? 2560 : 37, 70}};
    const std::vector<V> many = {
        {5, 64, 9}, {9, 192, 37}, {70, 288, 130}, {129, 96, 65}, {33, quant ? 1152 : 588, 21}};
    for (const char* v : {"vec", "vec_sg", "vec_h", "tile", "tile_h", "cols"})
      for (V s : std::string_view(v).starts_with("vec") ? few : many)
        cases.push_back(
            {fmt::format("matmul/{}/M{}xK{}xN{}/{}", dtype_name(wt), s.m, s.k, s.n, v),
             [=](OpBuilder& b) {
               b.g.matmul(b.input("x", {s.m, s.k}), b.weight("w", wt, {s.n, s.k}), b.input("b", {s.n}));
             },
             std::string_view(v).ends_with("_h") ? kHalfDot : kDot,
             {},
             "matmul",
             v});
  }
  // 8-bit activations with integer dot products (llama.cpp's and the CPU fast path's precision), and a
  // precise matmul, which must ignore the forced variant and stay at fp32.
  for (DType wt : {DType::Q8_0, DType::Q4_0}) {
    for (V s : {V{5, 64, 9}, V{9, 192, 37}, V{70, 288, 130}, V{129, 96, 65}, V{33, 1152, 21}, V{1, 256, 33}})
      cases.push_back(
          {fmt::format("matmul/{}/M{}xK{}xN{}/tile_dot", dtype_name(wt), s.m, s.k, s.n),
           [=](OpBuilder& b) {
             b.g.matmul(b.input("x", {s.m, s.k}), b.weight("w", wt, {s.n, s.k}), b.input("b", {s.n}));
           },
           kInt8Dot,
           {},
           "matmul",
           "tile_dot"});
    cases.push_back({fmt::format("matmul/{}/M9xK192xN37/precise/tile_dot", dtype_name(wt)),
                     [=](OpBuilder& b) {
                       b.g.matmul(b.input("x", {9, 192}), b.weight("w", wt, {37, 192}), {}, {},
                                  MatMulAttr{.precise = true});
                     },
                     kDot,
                     {},
                     "matmul",
                     "tile_dot"});
  }
  // The CPU-device GEMV ("rows") for quantised weights: one to four rows of x, N not a multiple of its
  // rows per pass or of the work split.
  for (DType wt : {DType::Q8_0, DType::Q4_0})
    for (int64_t m : {1, 3})
      for (int64_t n : {5, 33, 130})
        cases.push_back({fmt::format("matmul/{}/M{}xK256xN{}/rows", dtype_name(wt), m, n),
                         [=](OpBuilder& b) {
                           b.g.matmul(b.input("x", {m, 256}), b.weight("w", wt, {n, 256}), b.input("b", {n}));
                         },
                         kDot,
                         {},
                         "matmul",
                         "rows"});
  // Precise quantised matmuls (the ViT's: activations kept at fp32): one row, a batch, K not a multiple of
  // the CPU GEMM's 256-column panels.
  for (DType wt : {DType::Q8_0, DType::Q4_0})
    for (int64_t m : {1, 9, 70})
      cases.push_back({fmt::format("matmul/{}/M{}xK{}xN37/precise", dtype_name(wt), m, m == 70 ? 1152 : 288),
                       [=](OpBuilder& b) {
                         const int64_t k = m == 70 ? 1152 : 288;
                         b.g.matmul(b.input("x", {m, k}), b.weight("w", wt, {37, k}), b.input("b", {37}), {},
                                    MatMulAttr{.precise = true});
                       },
                       kDot});
  // F32/F16 rows not a multiple of 8 or 32 (the ViT's patch embedding has K = 588).
  for (DType wt : {DType::F32, DType::F16})
    for (int64_t k : {37, 588}) {
      cases.push_back({fmt::format("matmul/{}/M6xK{}xN21", dtype_name(wt), k),
                       [=](OpBuilder& b) {
                         b.g.matmul(b.input("x", {6, k}), b.weight("w", wt, {21, k}), b.input("b", {21}));
                       },
                       kDot});
      cases.push_back({fmt::format("matmul/{}/M1xK{}xN21", dtype_name(wt), k),
                       [=](OpBuilder& b) {
                         b.g.matmul(b.input("x", {1, k}), b.weight("w", wt, {21, k}));
                       },
                       kDot});
    }
  // A row range of a larger tensor as input (offset views).
  cases.push_back({"matmul/f32/view-rows",
                   [](OpBuilder& b) {
                     Tensor x = b.input("x", {10, 64});
                     b.g.matmul(b.g.rows(x, 3, 5), b.weight("w", DType::Q4_0, {19, 64}));
                   },
                   kDot});
}

void add_elementwise(std::vector<OpCase>& cases) {
  const Shape shapes[] = {{1, 1}, {3, 37}, {17, 64}, {2, 5, 129}};
  for (const Shape& s : shapes) {
    const std::string sz = s.str();
    cases.push_back(
        {"add/same" + sz, [=](OpBuilder& b) { b.g.add(b.input("a", s), b.input("b", s)); }, kExact});
    cases.push_back(
        {"add/row" + sz, [=](OpBuilder& b) { b.g.add(b.input("a", s), b.input("b", {s.last()})); }, kExact});
    cases.push_back(
        {"mul/same" + sz, [=](OpBuilder& b) { b.g.mul(b.input("a", s), b.input("b", s)); }, kExact});
    cases.push_back(
        {"mul/row" + sz, [=](OpBuilder& b) { b.g.mul(b.input("a", s), b.input("b", {s.last()})); }, kExact});
    if (s.rank == 3) {
      const Shape t{s[1], s[2]};  // a [T, C] table over [B, T, C] (the ViT's position embedding)
      cases.push_back(
          {"add/table" + sz, [=](OpBuilder& b) { b.g.add(b.input("a", s), b.input("b", t)); }, kExact});
    }
    cases.push_back({"scale/" + sz, [=](OpBuilder& b) { b.g.scale(b.input("x", s), -0.37f); }, kExact});
    cases.push_back({"silu_mul/" + sz,
                     [=](OpBuilder& b) { b.g.silu_mul(b.input("g", s, -6, 6), b.input("u", s)); },
                     kElementwise});
    cases.push_back({"gelu/tanh" + sz,
                     [=](OpBuilder& b) { b.g.gelu(b.input("x", s, -5, 5), GeluMode::Tanh); }, kElementwise});
    cases.push_back({"gelu/erf" + sz, [=](OpBuilder& b) { b.g.gelu(b.input("x", s, -5, 5), GeluMode::Erf); },
                     kElementwise});
  }
}

// The fused gate/up/SiLU of the LLM's feed-forward: 1 and 3 rows (the fused GEMV kernels) and 17 (two
// matmuls and silu_mul), odd N; every variant forced on the shapes it takes.
void add_swiglu(std::vector<OpCase>& cases) {
  for (DType wt : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0}) {
    const bool quant = wt == DType::Q8_0 || wt == DType::Q4_0;
    const int64_t k = quant ? 256 : 150;  // float K not a multiple of the 16-byte chunk
    for (int64_t m : {1, 3, 17}) {
      for (int64_t n : {37, 130}) {
        auto build = [=](OpBuilder& b) {
          b.g.swiglu(b.input("x", {m, k}), b.weight("wg", wt, {n, k}), b.weight("wu", wt, {n, k}));
        };
        const std::string name = fmt::format("swiglu/{}/M{}xK{}xN{}", dtype_name(wt), m, k, n);
        cases.push_back({name, build, kDot});
        if (m > 4) continue;
        for (const char* v : {"vec", "vec_sg", "rows", "split"})
          if (quant || std::string_view(v) != "rows")
            cases.push_back({name + "/" + v, build, kDot, {}, "swiglu", v});
      }
    }
  }
}

void add_norms(std::vector<OpCase>& cases) {
  const Shape shapes[] = {{1, 37}, {5, 256}, {3, 2560}, {2, 3, 96}};
  for (const Shape& s : shapes) {
    for (const char* v : {"row", "wg"}) {
      cases.push_back({fmt::format("rms_norm/w{}/{}", s.str(), v),
                       [=](OpBuilder& b) { b.g.rms_norm(b.input("x", s), b.input("w", {s.last()}), 1e-5f); },
                       kReduce,
                       {},
                       "rms_norm",
                       v});
      cases.push_back({fmt::format("rms_norm/now{}/{}", s.str(), v),
                       [=](OpBuilder& b) { b.g.rms_norm(b.input("x", s, 2, 3), {}, 1e-6f); },
                       kReduce,
                       {},
                       "rms_norm",
                       v});
    }
  }
}

void add_layer_norm_softmax(std::vector<OpCase>& cases) {
  const Shape shapes[] = {{1, 37}, {5, 256}, {3, 1152}, {2, 3, 96}};
  for (const Shape& s : shapes) {
    for (const char* v : {"row", "wg"}) {
      cases.push_back({fmt::format("layer_norm/wb{}/{}", s.str(), v),
                       [=](OpBuilder& b) {
                         b.g.layer_norm(b.input("x", s, -2, 3), b.input("w", {s.last()}),
                                        b.input("b", {s.last()}), 1e-6f);
                       },
                       kReduce,
                       {},
                       "layer_norm",
                       v});
      cases.push_back(
          {fmt::format("layer_norm/w{}/{}", s.str(), v),
           [=](OpBuilder& b) { b.g.layer_norm(b.input("x", s), b.input("w", {s.last()}), {}, 1e-5f); },
           kReduce,
           {},
           "layer_norm",
           v});
      cases.push_back({fmt::format("layer_norm/plain{}/{}", s.str(), v),
                       [=](OpBuilder& b) { b.g.layer_norm(b.input("x", s, 5, 6), {}, {}, 1e-5f); },
                       kReduce,
                       {},
                       "layer_norm",
                       v});
    }
    cases.push_back(
        {"softmax/" + s.str(), [=](OpBuilder& b) { b.g.softmax(b.input("x", s, -4, 4), 0.7f); }, kReduce});
  }
}

void add_rope(std::vector<OpCase>& cases) {
  struct S {
    int64_t t, h, d;
    int32_t n_rot, past;
  };
  const S shapes[] = {{1, 4, 64, 64, 0}, {7, 2, 128, 128, 5}, {3, 3, 72, 32, 100}, {5, 2, 16, 16, 2000}};
  for (RopeMode mode : {RopeMode::Adjacent, RopeMode::HalfSplit}) {
    for (const S& s : shapes) {
      const RopeAttr at{mode, s.n_rot, 10000.0f};
      cases.push_back(
          {fmt::format("rope/{}/[{}, {}, {}]/rot{}/past{}", mode == RopeMode::Adjacent ? "adjacent" : "half",
                       s.t, s.h, s.d, s.n_rot, s.past),
           [=](OpBuilder& b) {
             b.g.rope(b.input("x", {s.t, s.h, s.d}), at);
           },
           // fp32 angles at large positions lose ~pos * 2^-24 radians
           s.past > 1000 ? 1e-7 : kDot, Step{s.past}});
    }
  }
}

void add_get_rows(std::vector<OpCase>& cases) {
  for (DType t : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0}) {
    for (int64_t n : {1, 9}) {
      cases.push_back({fmt::format("get_rows/{}/n{}", dtype_name(t), n),
                       [=](OpBuilder& b) {
                         b.g.get_rows(b.weight("table", t, {50, 96}), b.ids("ids", n, 50));
                       },
                       kExact});
    }
  }
}

void add_copy_kv(std::vector<OpCase>& cases) {
  const DType types[] = {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0};
  for (DType from : types) {
    for (DType to : types) {
      cases.push_back({fmt::format("copy/{}-{}", dtype_name(from), dtype_name(to)),
                       [=](OpBuilder& b) {
                         b.g.copy(b.input_as("x", from, {3, 64}), to);
                       },
                       kExact});
    }
  }
  for (DType t : {DType::F32, DType::F16, DType::Q8_0}) {
    for (int32_t past : {0, 5}) {
      cases.push_back({fmt::format("kv_write/{}/past{}", dtype_name(t), past),
                       [=](OpBuilder& b) {
                         b.g.kv_write(b.input("k", {3, 2, 32}), b.state("cache", t, {10, 2, 32}));
                       },
                       kExact, Step{past}});
    }
  }
}

void add_layout_ops(std::vector<OpCase>& cases) {
  cases.push_back({"concat/axis0",
                   [](OpBuilder& b) {
                     b.g.concat(b.input("a", {3, 5}), b.input("b", {4, 5}), 0);
                   },
                   kExact});
  cases.push_back({"concat/axis1",
                   [](OpBuilder& b) {
                     b.g.concat(b.input("a", {3, 5}), b.input("b", {3, 2}), 1);
                   },
                   kExact});
  cases.push_back({"concat/axis2",
                   [](OpBuilder& b) {
                     b.g.concat(b.input("a", {2, 3, 5}), b.input("b", {2, 3, 7}), 2);
                   },
                   kExact});
  cases.push_back({"im2col/p14",
                   [](OpBuilder& b) {
                     b.g.im2col(b.input("img", {2, 3, 98, 98}), 14);
                   },
                   kExact});
  cases.push_back({"im2col/p4-trailing",
                   [](OpBuilder& b) {
                     b.g.im2col(b.input("img", {1, 3, 18, 21}), 4);
                   },
                   kExact});
  for (bool col : {false, true}) {
    for (int64_t grid : {7, 8, 27}) {
      cases.push_back({fmt::format("downsample/g{}/{}", grid, col ? "col" : "row"),
                       [=](OpBuilder& b) {
                         b.g.downsample(b.input("x", {2, grid, grid, 12}), col);
                       },
                       kExact});
    }
  }
}

void add_attention(std::vector<OpCase>& cases) {
  struct S {
    int64_t B, nq, H, Hkv, hd, nkv;
    bool causal;
  };
  // Without a cache: the ViT (full, head dim 72) and self-attention shapes.
  const S shapes[] = {{2, 49, 4, 4, 24, 49, false},
                      {1, 29, 16, 16, 72, 29, false},
                      {3, 5, 4, 2, 64, 5, true},
                      {1, 9, 6, 2, 32, 13, true},
                      {1, 1, 2, 1, 128, 7, false}};
  for (const S& s : shapes) {
    cases.push_back({fmt::format("attention/B{}xq{}xH{}/{}xd{}/kv{}{}", s.B, s.nq, s.H, s.Hkv, s.hd, s.nkv,
                                 s.causal ? "/causal" : ""),
                     [=](OpBuilder& b) {
                       const AttentionAttr at{.scale = 1.0f / std::sqrt(float(s.hd)), .causal = s.causal};
                       b.g.attention(b.input("q", {s.B, s.nq, s.H, s.hd}),
                                     b.input("k", {s.B, s.nkv, s.Hkv, s.hd}),
                                     b.input("v", {s.B, s.nkv, s.Hkv, s.hd}), at);
                     },
                     kDot});
  }
  // Over a KV cache of each type: a chunk after 11 cached tokens, and a single decode token.
  for (DType t : {DType::F32, DType::F16, DType::Q8_0}) {
    for (int64_t nq : {1, 8, 13}) {
      cases.push_back({fmt::format("attention/cache-{}/q{}/past11", dtype_name(t), nq),
                       [=](OpBuilder& b) {
                         const AttentionAttr at{.scale = 0.125f, .causal = true, .kv_cache = true};
                         Tensor kc = b.state("kc", t, {40, 2, 64});
                         Tensor vc = b.state("vc", t, {40, 2, 64});
                         b.g.attention(b.input("q", {1, nq, 4, 64}), b.g.reshape(kc, {1, 40, 2, 64}),
                                       b.g.reshape(vc, {1, 40, 2, 64}), at);
                       },
                       kDot, Step{11}});
    }
  }
}

// The GPU-style attention variants: flash (query blocks, K/V tiles) at the model's head dims without a
// cache and over one, split (key ranges + merge) over caches longer than one range, GQA groups of 1-4.
void add_attention_variants(std::vector<OpCase>& cases) {
  struct S {
    int64_t B, nq, H, Hkv, hd, nkv;
    bool causal;
  };
  const S flash[] = {{1, 29, 4, 4, 72, 29, false},
                     {2, 17, 2, 1, 64, 17, true},
                     {1, 37, 2, 2, 80, 37, true},
                     {1, 20, 3, 1, 96, 20, false},
                     {1, 33, 4, 2, 128, 33, true}};
  for (const char* v : {"flash", "stream"})
    for (const S& s : flash)
      cases.push_back({fmt::format("attention/B{}xq{}xH{}/{}xd{}/kv{}{}/{}", s.B, s.nq, s.H, s.Hkv, s.hd,
                                   s.nkv, s.causal ? "/causal" : "", v),
                       [=](OpBuilder& b) {
                         const AttentionAttr at{.scale = 1.0f / std::sqrt(float(s.hd)), .causal = s.causal};
                         b.g.attention(b.input("q", {s.B, s.nq, s.H, s.hd}),
                                       b.input("k", {s.B, s.nkv, s.Hkv, s.hd}),
                                       b.input("v", {s.B, s.nkv, s.Hkv, s.hd}), at);
                       },
                       kDot,
                       {},
                       "attention",
                       v});
  // Over a cache of each type: decode (1 query) and a short chunk, past 300 (3 ranges of 128 keys).
  struct C {
    int64_t nq, H, Hkv, hd;
  };
  for (DType t : {DType::F32, DType::F16, DType::Q8_0})
    for (const char* v : {"split", "flash"})
      for (C c : {C{1, 4, 1, 64}, C{1, 8, 2, 128}, C{3, 4, 2, 96}, C{2, 2, 2, 64}}) {
        if (t == DType::Q8_0 && c.hd % 32 != 0) continue;
        cases.push_back({fmt::format("attention/cache-{}/q{}xH{}/{}xd{}/past300/{}", dtype_name(t), c.nq, c.H,
                                     c.Hkv, c.hd, v),
                         [=](OpBuilder& b) {
                           const AttentionAttr at{
                               .scale = 1.0f / std::sqrt(float(c.hd)), .causal = true, .kv_cache = true};
                           Tensor kc = b.state("kc", t, {310, c.Hkv, c.hd});
                           Tensor vc = b.state("vc", t, {310, c.Hkv, c.hd});
                           b.g.attention(b.input("q", {1, c.nq, c.H, c.hd}),
                                         b.g.reshape(kc, {1, 310, c.Hkv, c.hd}),
                                         b.g.reshape(vc, {1, 310, c.Hkv, c.hd}), at);
                         },
                         kDot, Step{300}, "attention", v});
      }
}

}  // namespace

std::vector<OpCase> all_op_cases() {
  std::vector<OpCase> cases;
  add_matmul(cases);
  add_elementwise(cases);
  add_swiglu(cases);
  add_norms(cases);
  add_layer_norm_softmax(cases);
  add_rope(cases);
  add_get_rows(cases);
  add_copy_kv(cases);
  add_layout_ops(cases);
  add_attention(cases);
  add_attention_variants(cases);
  return cases;
}

}  // namespace bluecl::testing
