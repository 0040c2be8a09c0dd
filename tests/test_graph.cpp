// Graph IR: shape rules, views, names, and the liveness memory planner.
#include "graph/base/error.h"
#include "graph/graph.h"
#include "graph/planner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace bluecl {
namespace {

TEST(Graph, ShapesAndNames) {
  Graph g;
  std::vector<float> w(64 * 32);
  Tensor x = g.input("x", DType::F32, {5, 32});
  Tensor W = g.weight("w", DType::F32, {64, 32}, w.data());
  Tensor y = g.matmul(x, W, {}, "proj");
  EXPECT_EQ(g.shape(y), (Shape{5, 64}));
  EXPECT_EQ(g.info(y).name, "proj");
  EXPECT_EQ(g.find("proj"), y);
  Tensor v = g.reshape(y, {5, 4, 16});
  EXPECT_EQ(g.base_of(v.id), y.id);
  Tensor r = g.rows(y, 4, 1);  // rows count over all but the last dim
  EXPECT_EQ(g.info(r).view_offset, 4u * 64 * 4);
  Tensor r2 = g.rows(v, 3, 2);  // a view of a view: [20, 16] rows of the same base
  EXPECT_EQ(g.base_of(r2.id), y.id);
  EXPECT_EQ(g.info(r2).view_offset, 3u * 16 * 4);
  Tensor z = g.silu_mul(y, y);
  EXPECT_EQ(g.info(z).name, "silu_mul-1");  // default names: <op>-<node index>
}

// The op list (graph/ops.def): one name per op, each the file stem of its CPU and OpenCL code; the pseudo-op
// (Transfer, run by the executor) has none.
TEST(Ops, EachOpHasOneStemAcrossTheStack) {
  std::set<std::string_view> names;
  for (int k = 0; k < kNumOps; ++k) {
    const OpInfo& info = op_info(static_cast<OpKind>(k));
    EXPECT_EQ(info.kind, static_cast<OpKind>(k));
    EXPECT_TRUE(names.insert(info.name).second) << "two ops named " << info.name;
    if (info.kind == OpKind::Transfer) continue;
    const std::string stem(info.name);
    for (const std::string dir : {"/backend/cpu/ops/", "/backend/cl/ops/"})
      EXPECT_TRUE(std::filesystem::exists(BLUECL_SOURCE_DIR + dir + stem + ".cpp")) << dir << stem << ".cpp";
  }
}

TEST(Graph, ShapeErrorsAreCaught) {
  Graph g;
  Tensor a = g.input("a", DType::F32, {4, 8});
  Tensor b = g.input("b", DType::F32, {4, 9});
  EXPECT_THROW(g.add(a, b), Error);
  EXPECT_THROW(g.reshape(a, {3, 10}), Error);
}

TEST(Graph, AttentionShapes) {
  Graph g;
  Tensor q = g.input("q", DType::F32, {2, 7, 4, 16});
  Tensor k = g.input("k", DType::F32, {2, 9, 2, 16});
  Tensor y = g.attention(q, k, k, AttentionAttr{.scale = 0.25f});
  EXPECT_EQ(g.shape(y), (Shape{2, 7, 64}));
  Tensor k3 = g.input("k3", DType::F32, {2, 9, 3, 16});
  EXPECT_THROW(g.attention(q, k3, k3, AttentionAttr{}), Error);  // 4 heads over 3 KV heads
}

// A chain x -> a -> b -> c -> d: a dies when c is made, so c can reuse a's bytes.
TEST(Planner, ReusesDeadBuffers) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {16, 16});
  Tensor a = g.scale(x, 2.0f);
  Tensor b = g.scale(a, 2.0f);
  Tensor c = g.scale(b, 2.0f);
  Tensor d = g.scale(c, 2.0f);
  g.mark_output(d);
  MemoryPlan p = plan_memory(g, 64);
  const size_t one = 16 * 16 * 4;
  EXPECT_EQ(p.naive_bytes, 4 * one);
  EXPECT_EQ(p.arena_bytes, 2 * one);
  EXPECT_EQ(p.offset[c.id], p.offset[a.id]);
  EXPECT_NE(p.offset[b.id], p.offset[a.id]);
}

// No two tensors alive at the same node may overlap.
TEST(Planner, LiveTensorsNeverOverlap) {
  Graph g;
  Tensor x = g.input("x", DType::F32, {8, 40});
  std::vector<Tensor> ts;
  Tensor h = x;
  for (int i = 0; i < 20; ++i) {
    Tensor t = g.scale(h, 1.0f);
    if (i % 3 == 0) ts.push_back(t);  // kept alive until the end by the concat chain below
    h = t;
  }
  Tensor acc = ts[0];
  for (size_t i = 1; i < ts.size(); ++i) acc = g.concat(acc, ts[i], 0);
  g.mark_output(acc);
  MemoryPlan p = plan_memory(g, 64);
  const auto& nodes = g.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    // Tensors alive at node i: produced at or before i and read at or after i.
    std::vector<TensorId> live;
    for (const TensorInfo& t : g.tensors()) {
      const auto id = static_cast<TensorId>(&t - g.tensors().data());
      if (t.kind != TensorKind::Intermediate || t.producer > static_cast<int>(i)) continue;
      bool used_later = t.output;
      for (size_t j = i; j < nodes.size() && !used_later; ++j)
        for (int s = 0; s < nodes[j].n_src; ++s) used_later |= nodes[j].src[s] == id;
      if (used_later || t.producer == static_cast<int>(i)) live.push_back(id);
    }
    for (size_t u = 0; u < live.size(); ++u)
      for (size_t v = u + 1; v < live.size(); ++v) {
        const size_t a0 = p.offset[live[u]], a1 = a0 + g.info(live[u]).bytes();
        const size_t b0 = p.offset[live[v]], b1 = b0 + g.info(live[v]).bytes();
        EXPECT_TRUE(a1 <= b0 || b1 <= a0) << g.info(live[u]).name << " overlaps " << g.info(live[v]).name;
      }
  }
  EXPECT_LT(p.arena_bytes, p.naive_bytes);
}

TEST(DType, Fp16RoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t v = static_cast<uint16_t>(h);
    if ((v & 0x7c00) == 0x7c00 && (v & 0x3ff)) continue;  // NaN payloads are not preserved bit for bit
    ASSERT_EQ(fp32_to_fp16(fp16_to_fp32(v)), v) << h;
  }
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);            // rounds up to infinity
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);            // largest finite half
  EXPECT_EQ(fp32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);  // tie rounds to even
}

TEST(DType, QuantiseRoundTrip) {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = std::sin(i * 0.37f) * 3.0f;
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    std::vector<uint8_t> q(dtype_bytes(t, 64));
    std::vector<float> back(64);
    quantize_row(t, x.data(), q.data(), 64);
    dequantize_row(t, q.data(), back.data(), 64);
    EXPECT_LT(nmse(back.data(), x.data(), 64), t == DType::Q8_0 ? 1e-4 : 1e-2) << dtype_name(t);
  }
}

}  // namespace
}  // namespace bluecl
