// The vision tower against the golden references (tests/data/golden/README.md):
//  - tiny-v-f32 and tiny-v-q8_0: the ViT output and the projected tokens of the three reference tiles,
//    relative L2 error <= 1e-4 (fp32), on the CPU and on OpenCL, in batches of 1, 2 and 3, and the same
//    result (within 1e-6) whatever the batch size;
//  - mm-tiny-a-v: text embeddings around the 48 image tokens (golden ones, and our own) through a Session
//    give the float64 reference's logits (NMSE <= 1e-6, every top-1);
//  - the downsampler's column-major switch permutes tokens exactly as documented;
//  - the mmproj loader: defaults, and clear errors for broken files written with GgufWriter.
#include "graph/base/error.h"
#include "host/session/session.h"
#include "host/session/vision.h"
#include "host/util/json.h"
#include "tests/cl_testing.h"
#include "tests/golden.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace bluecl::testing {
namespace {

const VitModel& vit(const std::string& stem) {
  static std::map<std::string, std::unique_ptr<VitModel>> cache;
  auto& m = cache[stem];
  if (!m) m = VitModel::load(data_path("golden/" + stem + ".gguf"));
  return *m;
}

const LlmModel& llm(const std::string& stem) {
  return golden_llm(stem);
}

Devices& devices(bool cl) {
  return exact_devices(cl);
}

// ||a - ref|| / ||ref||, the golden README's measure for the vision tower.
double rel_l2(const std::vector<float>& a, const std::vector<float>& ref) {
  EXPECT_EQ(a.size(), ref.size());
  if (a.size() != ref.size()) return INFINITY;
  return std::sqrt(nmse(a.data(), ref.data(), static_cast<int64_t>(ref.size())));
}

std::vector<float> golden(const std::string& stem, const char* what) {
  return read_f32(data_path("golden/" + stem + "." + what + ".f32"));
}

struct Encoded {
  std::vector<float> vit, tokens;
};

Encoded encode(const VitModel& m, bool cl, int64_t batch, const std::vector<float>& tiles) {
  VisionEncoder enc(m, devices(cl), {.batch = batch});
  return {enc.encode_vit(tiles), enc.encode(tiles)};
}

// ---------------------------------------------------------------------------------------------------
// Golden ViT output and tokens.

struct Case {
  std::string stem;
  bool cl;
  int64_t batch;
};

std::vector<Case> cases() {
  std::vector<Case> v;
  for (const char* stem : {"tiny-v-f32", "tiny-v-q8_0"})
    for (bool cl : {false, true})
      for (int64_t batch : {1, 2, 3}) v.push_back({stem, cl, batch});
  return v;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.stem << (c.cl ? " cl" : " cpu") << " batch " << c.batch;
}

class VisionGolden : public ::testing::TestWithParam<Case> {};

TEST_P(VisionGolden, VitAndTokens) {
  const Case& c = GetParam();
  if (c.cl) BLUECL_REQUIRE_CL();
  const VitModel& m = vit(c.stem);
  const std::vector<float> tiles = golden(c.stem, "tiles");
  const Encoded got = encode(m, c.cl, c.batch, tiles);
  const double e_vit = rel_l2(got.vit, golden(c.stem, "vit"));
  const double e_tok = rel_l2(got.tokens, golden(c.stem, "tokens"));
  EXPECT_LE(e_vit, 1e-4);
  EXPECT_LE(e_tok, 1e-4);
  // Each tile is computed alone: a batch of 1 gives the same numbers.
  const Encoded one = encode(m, c.cl, 1, tiles);
  const double d_vit = rel_l2(got.vit, one.vit), d_tok = rel_l2(got.tokens, one.tokens);
  EXPECT_LE(d_vit, 1e-6);
  EXPECT_LE(d_tok, 1e-6);
  RecordProperty("rel_l2_vit", std::to_string(e_vit));
  RecordProperty("rel_l2_tokens", std::to_string(e_tok));
  std::printf("  %-12s %-4s batch %lld: rel L2 vit %.3g tokens %.3g; vs batch 1: %.3g %.3g\n", c.stem.c_str(),
              c.cl ? "cl" : "cpu", static_cast<long long>(c.batch), e_vit, e_tok, d_vit, d_tok);
}

INSTANTIATE_TEST_SUITE_P(All, VisionGolden, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string n = info.param.stem + (info.param.cl ? "_cl_b" : "_cpu_b") + std::to_string(info.param.batch);
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

// The OpenCL runs above really ran on the device: the ViT's work is placed there.
TEST(VisionPlacement, OpenClRunsTheTower) {
  BLUECL_REQUIRE_CL();
  VisionEncoder enc(vit("tiny-v-q8_0"), devices(true), {.pipeline = VisionPipeline::Off});  // the whole tower
  const std::string plan = enc.plan_text(2);
  std::istringstream lines(plan);
  std::set<std::string> on_cl;
  for (std::string line; std::getline(lines, line);) {
    for (const char* name : {"v.patches", "v.patch_embd", "v.attn-0", "v.ffn_act-1", "v.post_ln", "mm.merge",
                             "mm.act", "mm.tokens"})
      if (line.find(std::string(" ") + name + " ") != std::string::npos &&
          line.find(" cl") != std::string::npos)
        on_cl.insert(name);
  }
  EXPECT_EQ(on_cl.size(), 8u) << plan;
}

// The patch embedding pinned to the CPU (the paper's CPU/accelerator split, section 2(c)): the names the
// pins match exist, the split inserts transfers, and the result is unchanged.
TEST(VisionPlacement, PatchEmbeddingPinnedToCpu) {
  BLUECL_REQUIRE_CL();
  Devices split({.device = "",
                 .n_threads = 2,
                 .pins = "v.patch*=cpu",
                 .placement = "device",
                 .cpu_precision = CpuPrecision::Reference});
  VisionEncoder enc(vit("tiny-v-f32"), split, {.batch = 2, .pipeline = VisionPipeline::Off});
  const std::string plan = enc.plan_text(2);
  EXPECT_NE(plan.find("pinned"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("\n0 transfers"), std::string::npos) << plan;
  const std::vector<float> tiles = golden("tiny-v-f32", "tiles");
  EXPECT_LE(rel_l2(enc.encode(tiles), golden("tiny-v-f32", "tokens")), 1e-4);
}

// A longer run than one batch (7 tiles in batches of 3 = 3 + 3 + 1) gives each tile its own result.
TEST(VisionBatching, ManyTilesMatchSingleTiles) {
  const VitModel& m = vit("tiny-v-f32");
  const std::vector<float> three = golden("tiny-v-f32", "tiles");
  const std::vector<float> ref = golden("tiny-v-f32", "tokens");
  const size_t tile = three.size() / 3, toks = ref.size() / 3;
  // Tiles 0 1 2 2 1 0 1: every position sees each tile in a different batch slot.
  const int order[] = {0, 1, 2, 2, 1, 0, 1};
  std::vector<float> tiles;
  for (int t : order) tiles.insert(tiles.end(), three.begin() + t * tile, three.begin() + (t + 1) * tile);
  VisionEncoder enc(m, devices(false), {.batch = 3});
  const std::vector<float> got = enc.encode(tiles);
  ASSERT_EQ(got.size(), 7 * toks);
  for (int i = 0; i < 7; ++i) {
    const std::vector<float> a(got.begin() + i * toks, got.begin() + (i + 1) * toks);
    const std::vector<float> r(ref.begin() + order[i] * toks, ref.begin() + (order[i] + 1) * toks);
    EXPECT_LE(rel_l2(a, r), 1e-4) << "tile " << i;
  }
  // Freed device weights are uploaded again on the next encode.
  enc.release_weights();
  EXPECT_EQ(enc.encode(tiles), got);
}

TEST(VisionEncoderArgs, RejectsBadSizes) {
  const VitModel& m = vit("tiny-v-f32");
  VisionEncoder enc(m, devices(false));
  const std::vector<float> bad(m.hparams().tile_floats() + 5, 0.0f);
  EXPECT_THROW(enc.encode(bad), Error);
  EXPECT_THROW(enc.encode(std::vector<float>{}), Error);
  std::vector<float> out(10);
  EXPECT_THROW(enc.encode(std::vector<float>(m.hparams().tile_floats(), 0.0f), out), Error);
  EXPECT_THROW(VisionEncoder(m, devices(false), {.batch = 0}), Error);
}

// ---------------------------------------------------------------------------------------------------
// Broken and edited mmproj files.

// Writes a copy of tiny-v-f32.gguf: keys and tensors named in `drop` are left out, `edit_kv` runs after
// the keys are copied (set_* replaces a value), and `edit_tensor` may write a tensor itself (returns true).
std::string variant(const std::string& name, const std::set<std::string>& drop,
                    const std::function<void(GgufWriter&)>& edit_kv,
                    const std::function<bool(GgufWriter&, const GgufTensor&)>& edit_tensor = {}) {
  struct Dir {
    std::string path = temp_dir("bluecl-vision");
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir tmp;
  const std::string& dir = tmp.path;
  const GgufFile& src = vit("tiny-v-f32").file();
  GgufWriter w;
  for (const std::string& k : src.keys())
    if (!drop.count(k)) w.copy_kv(src, k);
  if (edit_kv) edit_kv(w);
  for (const GgufTensor& t : src.tensors()) {
    if (drop.count(t.name) || (edit_tensor && edit_tensor(w, t))) continue;
    w.add_tensor(t.name, *t.dtype, t.shape, t.data);
  }
  const std::string path = dir + "/" + name + ".gguf";
  w.write(path);
  return path;
}

// Re-encodes an f32 tensor of the reference file as another type.
void add_as(GgufWriter& w, const GgufTensor& t, DType to) {
  const auto* x = static_cast<const float*>(t.data);
  const int64_t row = t.shape.last(), rows = t.shape.rows();
  std::vector<uint8_t> bytes(dtype_bytes(to, t.shape.numel()));
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(to, x + r * row, bytes.data() + r * dtype_bytes(to, row), row);
  w.add_tensor(t.name, to, t.shape, bytes.data());
}

// Loading throws `status` with a message that contains every one of `words`.
void expect_load_error(const std::string& path, Status status, std::initializer_list<std::string> words) {
  try {
    VitModel::load(path);
    ADD_FAILURE() << path << " loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    for (const std::string& w : words)
      EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
  }
}

TEST(VitLoader, ReadsTheReferenceFile) {
  const VitModel& m = vit("tiny-v-f32");
  const VitHParams& hp = m.hparams();
  EXPECT_EQ(hp.image_size, 98);
  EXPECT_EQ(hp.patch_size, 14);
  EXPECT_EQ(hp.n_embd, 96);
  EXPECT_EQ(hp.n_ff, 160);
  EXPECT_EQ(hp.n_layer, 2);
  EXPECT_EQ(hp.head_dim(), 24);
  EXPECT_EQ(hp.proj_dim, 256);
  EXPECT_EQ(hp.tokens_per_tile(), 16);
  EXPECT_FLOAT_EQ(hp.eps, 1e-6f);
  EXPECT_FALSE(hp.column_major);
  EXPECT_EQ(m.weights().patch_w.shape, (Shape{96, 3 * 14 * 14}));
  EXPECT_EQ(vit("tiny-v-q8_0").weights().layers[1].up_w.dtype, DType::Q8_0);
}

TEST(VitLoader, DefaultsAndOverrides) {
  const std::set<std::string> optional{"clip.vision.attention.layer_norm_epsilon",
                                       "clip.vision.image_mean",
                                       "clip.vision.image_std",
                                       "clip.vision.projection_dim",
                                       "clip.vision.downsample_column_major",
                                       "clip.vision.max_grid",
                                       "clip.vision.max_tiles",
                                       "clip.has_vision_encoder"};
  auto d = VitModel::load(variant("defaults", optional, {}));
  EXPECT_FLOAT_EQ(d->hparams().eps, 1e-6f);
  EXPECT_EQ(d->hparams().proj_dim, 256);  // from mm.model.mlp.1.weight
  EXPECT_FALSE(d->hparams().column_major);
  EXPECT_EQ(d->max_grid(), 4);
  EXPECT_EQ(d->max_tiles(), 8);
  EXPECT_EQ(d->image_mean(), (std::array<float, 3>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(d->image_std(), (std::array<float, 3>{0.5f, 0.5f, 0.5f}));

  auto o = VitModel::load(variant("overrides", {}, [](GgufWriter& w) {
    w.set_f32("clip.vision.attention.layer_norm_epsilon", 1e-5f);
    w.set_f32_array("clip.vision.image_mean", {0.48145466f, 0.4578275f, 0.40821073f});
    w.set_f32_array("clip.vision.image_std", {0.26862954f, 0.26130258f, 0.27577711f});
    w.set_bool("clip.vision.downsample_column_major", true);
    w.set_i32("clip.vision.max_grid", 3);
    w.set_u32("clip.vision.max_tiles", 6);
  }));
  EXPECT_FLOAT_EQ(o->hparams().eps, 1e-5f);
  EXPECT_TRUE(o->hparams().column_major);
  EXPECT_FLOAT_EQ(o->image_mean()[2], 0.40821073f);
  const TileOptions to = o->tile_options();
  EXPECT_EQ(to.tile, 98);
  EXPECT_FLOAT_EQ(to.stddev[1], 0.26130258f);
  const GridOptions go = o->grid_options();
  EXPECT_EQ(go.tile, 98);
  EXPECT_EQ(go.max_grid, 3);
  EXPECT_EQ(go.max_tiles, 6);
}

TEST(VitLoader, BrokenFiles) {
  expect_load_error(variant("missing", {"v.blk.1.attn_k.bias"}, {}), Status::BadFile,
                    {"v.blk.1.attn_k.bias", "missing"});
  expect_load_error(variant("no_projector", {"mm.model.mlp.3.weight"}, {}), Status::BadFile,
                    {"mm.model.mlp.3.weight"});
  expect_load_error(
      variant("projector", {}, [](GgufWriter& w) { w.set_string("clip.projector_type", "mlp"); }),
      Status::Unsupported, {"projector type", "'mlp'"});
  expect_load_error(variant("no_projector_type", {"clip.projector_type"}, {}), Status::BadFile,
                    {"clip.projector_type"});
  expect_load_error(variant("arch", {}, [](GgufWriter& w) { w.set_string("general.architecture", "llama"); }),
                    Status::Unsupported, {"'llama'"});
  expect_load_error(data_path("golden/tiny-a-f32.gguf"), Status::Unsupported, {"architecture"});
  expect_load_error(variant("no_blocks", {"clip.vision.block_count"}, {}), Status::BadFile,
                    {"clip.vision.block_count"});
  expect_load_error(
      variant("heads", {}, [](GgufWriter& w) { w.set_u32("clip.vision.attention.head_count", 5); }),
      Status::BadFile, {"5 heads"});
  expect_load_error(variant("std", {},
                            [](GgufWriter& w) {
                              w.set_f32_array("clip.vision.image_std", {0.5f, 0.0f, 0.5f});
                            }),
                    Status::BadFile, {"clip.vision.image_std"});
  expect_load_error(variant("mean3", {},
                            [](GgufWriter& w) {
                              w.set_f32_array("clip.vision.image_mean", {0.5f, 0.5f});
                            }),
                    Status::BadFile, {"clip.vision.image_mean", "2 values"});
  // A transposed matrix: same bytes, wrong shape.
  expect_load_error(variant("shape", {}, {},
                            [](GgufWriter& w, const GgufTensor& t) {
                              if (t.name != "v.blk.1.ffn_up.weight") return false;
                              w.add_tensor(t.name, *t.dtype, Shape{t.shape[1], t.shape[0]}, t.data);
                              return true;
                            }),
                    Status::BadFile, {"v.blk.1.ffn_up.weight", "shape [96, 160]", "expected [160, 96]"});
  // A tile size whose patch grid the position table does not cover (112 / 14 = 8x8 = 64 rows, not 49).
  expect_load_error(variant("grid", {}, [](GgufWriter& w) { w.set_u32("clip.vision.image_size", 112); }),
                    Status::BadFile, {"v.position_embd.weight", "expected [64, 96]"});
  expect_load_error(
      variant("proj_dim", {}, [](GgufWriter& w) { w.set_u32("clip.vision.projection_dim", 128); }),
      Status::BadFile, {"mm.model.mlp.1.weight"});
  expect_load_error(variant("f16_bias", {}, {},
                            [](GgufWriter& w, const GgufTensor& t) {
                              if (t.name != "v.blk.0.attn_v.bias") return false;
                              add_as(w, t, DType::F16);
                              return true;
                            }),
                    Status::Unsupported, {"v.blk.0.attn_v.bias", "f16", "must be f32"});
  expect_load_error(variant("q4_matrix", {}, {},
                            [](GgufWriter& w, const GgufTensor& t) {
                              if (t.name != "mm.model.mlp.1.weight") return false;
                              add_as(w, t, DType::Q4_0);
                              return true;
                            }),
                    Status::Unsupported, {"mm.model.mlp.1.weight", "q4_0"});
}

// An f16 copy of the matrices loads and stays within the README's fp16 bound (weights rounded to fp16).
TEST(VitLoader, F16MatricesRun) {
  auto m = VitModel::load(variant("f16", {}, {}, [](GgufWriter& w, const GgufTensor& t) {
    if (t.shape.rank < 2 || t.name == "v.position_embd.weight") return false;
    add_as(w, t, DType::F16);
    return true;
  }));
  EXPECT_EQ(m->weights().patch_w.dtype, DType::F16);
  VisionEncoder enc(*m, devices(false));
  const double e = rel_l2(enc.encode(golden("tiny-v-f32", "tiles")), golden("tiny-v-f32", "tokens"));
  EXPECT_LE(e, 5e-3);
  EXPECT_GT(e, 0.0);  // the weights really were rounded
}

// VILA's order: the token at (row i, column j) of the merged h x h grid goes to j*h + i instead of i*h + j.
TEST(VisionDownsample, ColumnMajorSwitch) {
  auto m = VitModel::load(variant(
      "column_major", {}, [](GgufWriter& w) { w.set_bool("clip.vision.downsample_column_major", true); }));
  ASSERT_TRUE(m->hparams().column_major);
  const std::vector<float> tiles = golden("tiny-v-f32", "tiles");
  const std::vector<float> row = golden("tiny-v-f32", "tokens");
  VisionEncoder enc(*m, devices(false), {.batch = 2});
  const std::vector<float> col = enc.encode(tiles);
  ASSERT_EQ(col.size(), row.size());
  const int64_t h = m->hparams().merged_grid(), H = m->hparams().proj_dim;
  std::vector<float> permuted(row.size());
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < h; ++j)
        std::copy_n(row.begin() + ((b * h + i) * h + j) * H, H, permuted.begin() + ((b * h + j) * h + i) * H);
  EXPECT_LE(rel_l2(col, permuted), 1e-4);
  EXPECT_GT(rel_l2(col, row), 0.1);  // and it is not the row-major order
}

// ---------------------------------------------------------------------------------------------------
// The multimodal sequence through the language model.

struct MmCase {
  bool cl;
  bool own_tokens;  // our encoder's image tokens instead of the golden ones
  int64_t chunk;
};

class MultimodalGolden : public ::testing::TestWithParam<MmCase> {};

TEST_P(MultimodalGolden, Logits) {
  const MmCase& c = GetParam();
  if (c.cl) BLUECL_REQUIRE_CL();
  const Json doc = parse_json(read_text(data_path("golden/mm-tiny-a-v.json")));
  auto ids = [&](const char* key) {
    std::vector<int32_t> v;
    for (const Json& t : doc.at(key).as_array()) v.push_back(static_cast<int32_t>(t.as_int()));
    return v;
  };
  const LlmModel& lm = llm("tiny-a-f32");
  std::vector<float> image = golden("tiny-v-f32", "tokens");
  if (c.own_tokens) {
    VisionEncoder enc(vit("tiny-v-f32"), devices(c.cl));
    image = enc.encode(golden("tiny-v-f32", "tiles"));
  }
  ASSERT_EQ(static_cast<int64_t>(image.size()), doc.at("image_tokens").as_int() * lm.hparams().n_embd);
  std::vector<float> embd = token_embeddings(lm, ids("pre_tokens"));
  embd.insert(embd.end(), image.begin(), image.end());
  const std::vector<float> post = token_embeddings(lm, ids("post_tokens"));
  embd.insert(embd.end(), post.begin(), post.end());

  Session s(lm, devices(c.cl), {.n_ctx = 256, .n_chunk = c.chunk, .kv_type = DType::F32, .all_logits = true});
  s.prefill_embd(embd);
  const Agreement a = compare_logits(
      s.all_logits(), read_f32(data_path("golden/mm-tiny-a-v.exact.logits.f32")), lm.hparams().n_vocab);
  EXPECT_LE(a.nmse, 1e-6);
  EXPECT_EQ(a.top1, 1.0);
  RecordProperty("nmse_exact", std::to_string(a.nmse));
  std::printf("  mm-tiny-a-v %-4s %-6s image tokens, chunk %-3lld: NMSE vs exact %.3g (top-1 %.1f%%)\n",
              c.cl ? "cl" : "cpu", c.own_tokens ? "own" : "golden", static_cast<long long>(c.chunk), a.nmse,
              100 * a.top1);
}

std::vector<MmCase> mm_cases() {
  std::vector<MmCase> v;
  for (bool cl : {false, true})
    for (bool own : {false, true})
      for (int64_t chunk : {7, 128}) v.push_back({cl, own, chunk});
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, MultimodalGolden, ::testing::ValuesIn(mm_cases()), [](const auto& info) {
  return std::string(info.param.cl ? "cl_" : "cpu_") + (info.param.own_tokens ? "own_" : "golden_") +
         "chunk" + std::to_string(info.param.chunk);
});

// token_embeddings dequantises the table exactly as the graph's get_rows does, for every table type:
// feeding the embeddings gives the logits of feeding the ids.
TEST(TokenEmbeddings, MatchTheGraphsLookup) {
  const std::vector<int32_t> ids{1, 518, 127, 75, 2047, 0, 13};
  for (const char* stem : {"tiny-a-f32", "tiny-a-f16", "tiny-a-q8_0", "tiny-a-q4_0"}) {
    const LlmModel& lm = llm(stem);
    Session a(lm, devices(false), {.n_ctx = 64, .kv_type = DType::F32, .all_logits = true});
    a.prefill(ids);
    Session b(lm, devices(false), {.n_ctx = 64, .kv_type = DType::F32, .all_logits = true});
    b.prefill_embd(token_embeddings(lm, ids));
    EXPECT_LE(nmse(b.all_logits().data(), a.all_logits().data(), static_cast<int64_t>(a.all_logits().size())),
              1e-12)
        << stem;
  }
  const std::vector<int32_t> bad{2048};
  EXPECT_THROW(token_embeddings(llm("tiny-a-f32"), bad), Error);
}

}  // namespace
}  // namespace bluecl::testing
