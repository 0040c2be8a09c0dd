// The random-weight model generator (tools/model_gen.h, `bluecl gen-model`): tiny models of every weight
// type and both architectures load with LlmModel::load and run on the CPU with finite, varied logits;
// files are byte-identical for a seed whatever the thread count and differ across seeds; the weight types
// hold the same underlying values; the mmproj has exactly the keys and tensors of model-format.md (and of
// the golden mmproj); existing files are not overwritten without --force; bad options fail clearly.
#include "graph/base/error.h"
#include "host/gguf/gguf.h"
#include "host/model/llm_model.h"
#include "host/session/session.h"
#include "tests/testing.h"
#include "tools/commands.h"
#include "tools/model_gen.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>

namespace bluecl {
namespace {

namespace fs = std::filesystem;
using testing::data_path;
using testing::read_bytes;

const std::string kVocab = data_path("vocab/ggml-vocab-llama-spm.gguf");

class GenModel : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::temp_dir("bluecl-gen"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  gen::GenOptions tiny(const std::string& name, DType type = DType::Q8_0,
                       const std::string& arch = "llama") const {
    gen::GenOptions o = gen::preset("tiny");
    o.llm.arch = arch;
    o.llm.type = type;
    o.llm.embd_type = type == DType::Q4_0 ? DType::Q8_0 : type;
    o.out = path(name);
    o.vocab = kVocab;
    return o;
  }

  std::string dir_;
};

// Runs the `gen-model` command with these arguments; returns the exit status and what it wrote.
struct CliResult {
  int rc;
  std::string out, err;
};
CliResult run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "gen-model");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int rc = cli::gen_model_main(static_cast<int>(argv.size()), argv.data());
  std::string out = ::testing::internal::GetCapturedStdout();
  return {rc, std::move(out), ::testing::internal::GetCapturedStderr()};
}

std::vector<float> dequantized(const GgufTensor& t) {
  std::vector<float> v(static_cast<size_t>(t.shape.numel()));
  dequantize_row(*t.dtype, t.data, v.data(), t.shape.numel());
  return v;
}

double stddev(std::span<const float> v) {
  double s = 0, s2 = 0;
  for (float x : v) {
    s += x;
    s2 += double(x) * x;
  }
  const double m = s / v.size();
  return std::sqrt(std::max(0.0, s2 / v.size() - m * m));
}

void expect_sane_logits(std::span<const float> logits, int64_t n_vocab, const std::string& what) {
  ASSERT_EQ(static_cast<int64_t>(logits.size()), n_vocab) << what;
  for (float x : logits) ASSERT_TRUE(std::isfinite(x)) << what;
  // Not constant, and on the scale the generator aims for (std ~1, not vanishing nor exploding).
  const double sd = stddev(logits);
  EXPECT_GT(sd, 0.05) << what;
  EXPECT_LT(sd, 50.0) << what;
}

struct TypeArch {
  DType type;
  const char* arch;
};
void PrintTo(const TypeArch& p, std::ostream* os) {
  *os << p.arch << " " << dtype_name(p.type);
}

class GenModelRuns : public GenModel, public ::testing::WithParamInterface<TypeArch> {};

TEST_P(GenModelRuns, LoadsAndRunsOnTheCpu) {
  const auto [type, arch] = GetParam();
  const gen::GenOptions o = tiny("m.gguf", type, arch);
  const std::vector<gen::GenFileReport> reps = gen::generate(o);
  ASSERT_EQ(reps.size(), 1u);
  EXPECT_EQ(reps[0].file_bytes, fs::file_size(o.out));
  EXPECT_TRUE(reps[0].f16_fallbacks.empty());

  const auto m = LlmModel::load(o.out);
  EXPECT_EQ(m->arch(), arch);
  const LlmHParams& hp = m->hparams();
  EXPECT_EQ(hp.n_embd, o.llm.n_embd);
  EXPECT_EQ(hp.n_layer, o.llm.n_layer);
  EXPECT_EQ(hp.n_head, o.llm.n_head);
  EXPECT_EQ(hp.n_head_kv, o.llm.n_head_kv);
  EXPECT_EQ(hp.n_ff, o.llm.n_ff);
  EXPECT_EQ(hp.n_ctx_train, o.llm.n_ctx);
  EXPECT_EQ(hp.n_vocab, 32000);
  EXPECT_EQ(hp.embd_norm, std::string(arch) == "bluelm");
  EXPECT_EQ(m->weights().layers[0].wq.dtype, type);
  EXPECT_EQ(m->weights().layers[1].down.dtype, type);
  EXPECT_EQ(m->weights().tok_embd.dtype, type == DType::Q4_0 ? DType::Q8_0 : type);
  EXPECT_EQ(m->weights().output.dtype, type == DType::Q4_0 ? DType::Q8_0 : type);
  EXPECT_NE(m->weights().output.data, m->weights().tok_embd.data);  // untied
  EXPECT_NE(m->file().get_string("general.description").value_or("").find("meaningless"), std::string::npos);

  Devices dev({.device = "cpu", .n_threads = 2});
  Session s(*m, dev, {.n_ctx = 64, .kv_type = DType::F32});
  const std::vector<int32_t> toks = m->tokenizer().encode("The quick brown fox", true);
  ASSERT_GE(toks.size(), 3u);
  s.prefill(toks);
  const std::vector<float> first(s.logits().begin(), s.logits().end());
  expect_sane_logits(first, hp.n_vocab, "prefill");
  s.decode(toks[1]);
  const std::vector<float> second(s.logits().begin(), s.logits().end());
  expect_sane_logits(second, hp.n_vocab, "decode");
  EXPECT_NE(first, second);  // the output depends on the input
}

INSTANTIATE_TEST_SUITE_P(All, GenModelRuns,
                         ::testing::Values(TypeArch{DType::F32, "llama"}, TypeArch{DType::F16, "llama"},
                                           TypeArch{DType::Q8_0, "llama"}, TypeArch{DType::Q4_0, "llama"},
                                           TypeArch{DType::F32, "bluelm"}, TypeArch{DType::F16, "bluelm"},
                                           TypeArch{DType::Q8_0, "bluelm"}, TypeArch{DType::Q4_0, "bluelm"}),
                         [](const auto& info) {
                           return std::string(info.param.arch) + "_" +
                                  std::string(dtype_name(info.param.type));
                         });

TEST_F(GenModel, BluelmHasTheEmbeddingLayerNorm) {
  gen::generate(tiny("b.gguf", DType::Q4_0, "bluelm"));
  const auto f = GgufFile::open(path("b.gguf"));
  EXPECT_EQ(f->require_tensor("token_embd_norm.weight", Shape{128}).ggml_type, kGgmlF32);
  EXPECT_EQ(f->require_tensor("token_embd_norm.bias", Shape{128}).ggml_type, kGgmlF32);
  for (float x : dequantized(f->require_tensor("token_embd_norm.weight"))) ASSERT_EQ(x, 1.0f);
  EXPECT_EQ(f->get_int("bluelm.embedding_length"), 128);
  EXPECT_FALSE(f->has("llama.embedding_length"));
  EXPECT_EQ(f->get_int("general.file_type"), 2);  // llama.cpp's MOSTLY_Q4_0
}

TEST_F(GenModel, TokenizerIsCopiedFromTheVocabularyFile) {
  gen::GenOptions o = tiny("g.gguf");
  o.vocab = data_path("vocab/ggml-vocab-gpt-2.gguf");
  gen::generate(o);
  const auto m = LlmModel::load(o.out);
  const auto v = GgufFile::open(o.vocab);
  EXPECT_EQ(m->hparams().n_vocab, 50257);
  EXPECT_EQ(m->tokenizer().vocab().model, "gpt2");
  EXPECT_EQ(m->tokenizer().vocab().merges, load_vocab(*v).merges);
  for (const std::string& k : v->keys()) {
    if (k.starts_with("tokenizer.")) {
      EXPECT_TRUE(m->file().has(k)) << k;
    }
  }
  EXPECT_EQ(m->tokenizer().encode("Hello world", false),
            Tokenizer::create(load_vocab(*v))->encode("Hello world", false));
}

// Matrices are uniform with std 1/sqrt(fan_in); norm weights are exactly 1; the other weight types hold
// the same values (up to their rounding), because values depend on (seed, name, row, column) only.
TEST_F(GenModel, ValuesAreScaledAndSharedAcrossTypes) {
  gen::generate(tiny("f32.gguf", DType::F32));
  gen::generate(tiny("f16.gguf", DType::F16));
  gen::generate(tiny("q8.gguf", DType::Q8_0));
  gen::generate(tiny("q4.gguf", DType::Q4_0));
  const auto f32 = GgufFile::open(path("f32.gguf"));
  const std::vector<float> q = dequantized(f32->require_tensor("blk.0.attn_q.weight"));
  double mean = 0;
  for (float x : q) mean += x;
  mean /= q.size();
  EXPECT_NEAR(mean, 0.0, 0.005);
  EXPECT_NEAR(stddev(q), 1.0 / std::sqrt(128.0), 0.004);
  const std::vector<float> down = dequantized(f32->require_tensor("blk.1.ffn_down.weight"));
  EXPECT_NEAR(stddev(down), 1.0 / std::sqrt(352.0), 0.003);
  for (float x : dequantized(f32->require_tensor("blk.1.ffn_norm.weight"))) ASSERT_EQ(x, 1.0f);
  EXPECT_NE(q, dequantized(f32->require_tensor("blk.0.attn_output.weight")));  // each tensor its own values

  const std::pair<const char*, double> others[] = {{"f16.gguf", 1e-6}, {"q8.gguf", 1e-4}, {"q4.gguf", 2e-2}};
  for (const auto& [name, tol] : others) {
    const auto f = GgufFile::open(path(name));
    for (const char* t : {"blk.0.attn_q.weight", "blk.1.ffn_down.weight", "token_embd.weight"}) {
      const std::vector<float> a = dequantized(f32->require_tensor(t)), b = dequantized(f->require_tensor(t));
      double err = 0, ref = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        err += (a[i] - b[i]) * double(a[i] - b[i]);
        ref += double(a[i]) * a[i];
      }
      EXPECT_LT(err / ref, tol) << name << " " << t;
    }
  }
}

TEST_F(GenModel, SameSeedSameBytesWhateverTheThreads) {
  gen::GenOptions a = tiny("a.gguf"), b = tiny("b.gguf"), c = tiny("c.gguf");
  a.n_threads = 1;
  b.n_threads = 3;
  c.seed = 43;
  gen::generate(a);
  gen::generate(b);
  gen::generate(c);
  const std::vector<uint8_t> ba = read_bytes(a.out), bb = read_bytes(b.out), bc = read_bytes(c.out);
  EXPECT_EQ(ba, bb);
  ASSERT_EQ(ba.size(), bc.size());
  EXPECT_NE(ba, bc);
  const auto fa = GgufFile::open(a.out), fc = GgufFile::open(c.out);
  for (const GgufTensor& t : fa->tensors()) {
    if (t.name.find("norm") != std::string::npos) continue;  // norm weights are 1 whatever the seed
    EXPECT_NE(dequantized(t), dequantized(fc->require_tensor(t.name))) << t.name;
  }
}

TEST_F(GenModel, RefusesToOverwriteWithoutForce) {
  { std::ofstream(path("m.gguf")) << "precious"; }
  gen::GenOptions o = tiny("m.gguf");
  try {
    gen::generate(o);
    FAIL() << "overwrote an existing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos) << e.what();
  }
  EXPECT_EQ(testing::read_text(path("m.gguf")), "precious");

  CliResult r = run_cli({"-o", path("m.gguf")});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(testing::read_text(path("m.gguf")), "precious");

  // An existing mmproj blocks the whole run: nothing is written.
  { std::ofstream(path("v.gguf")) << "precious"; }
  r = run_cli({"-o", path("new.gguf"), "--mmproj-out", path("v.gguf")});
  EXPECT_EQ(r.rc, 2);
  EXPECT_FALSE(fs::exists(path("new.gguf")));

  r = run_cli({"-o", path("m.gguf"), "--force"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NO_THROW(LlmModel::load(path("m.gguf")));
  // Never the vocabulary file itself, even with --force.
  r = run_cli({"-o", kVocab, "--vocab", kVocab, "--force"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("vocabulary"), std::string::npos) << r.err;
}

TEST_F(GenModel, CommandWritesALoadableModelAndSaysTheTextIsMeaningless) {
  const CliResult r =
      run_cli({"--preset", "tiny", "--arch",   "bluelm",    "--type",     "q4_0", "--hidden",    "64",
               "--layers", "3",    "--heads",  "4",         "--kv-heads", "1",    "--ffn",       "96",
               "--ctx",    "512",  "--seed=7", "--threads", "2",          "-o",   path("c.gguf")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("meaningless"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("tensor 32/32"), std::string::npos) << r.err;  // progress: 5 + 3 * 9
  const auto m = LlmModel::load(path("c.gguf"));
  EXPECT_EQ(m->arch(), "bluelm");
  EXPECT_EQ(m->hparams().n_embd, 64);
  EXPECT_EQ(m->hparams().n_layer, 3);
  EXPECT_EQ(m->hparams().n_head_kv, 1);
  EXPECT_EQ(m->hparams().n_ff, 96);
  EXPECT_EQ(m->hparams().n_ctx_train, 512);
  EXPECT_EQ(m->weights().layers[2].up.dtype, DType::Q4_0);
  EXPECT_NE(m->file().get_string("general.description").value_or("").find("seed 7"), std::string::npos);

  const CliResult h = run_cli({"--help"});
  EXPECT_EQ(h.rc, 0);
  EXPECT_NE(h.out.find("--preset"), std::string::npos);
  EXPECT_NE(h.out.find("meaningless"), std::string::npos);
}

TEST_F(GenModel, BadOptionsFailClearly) {
  const std::string out = path("x.gguf");
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--bogus", "-o", out}, "unknown option '--bogus'"},
      {{"--preset", "huge", "-o", out}, "unknown preset 'huge'"},
      {{}, "no output file"},
      {{"-o"}, "-o needs a value"},
      {{"--type", "q5_k", "-o", out}, "unknown weight type 'q5_k'"},
      {{"--arch", "gpt2", "-o", out}, "unknown architecture 'gpt2'"},
      {{"--hidden", "12x", "-o", out}, "--hidden expects"},
      {{"--layers", "0", "-o", out}, "--layers expects an integer in [1, 16777216], got '0'"},
      {{"--hidden", "4294967296", "-o", out}, "--hidden expects an integer in [1, 16777216]"},
      {{"--threads", "1000", "-o", out}, "--threads expects an integer in [1, 256]"},
      {{"--hidden", "100", "--heads", "3", "-o", out}, "not a multiple of 3 heads"},
      {{"--heads", "4", "--kv-heads", "3", "-o", out}, "cannot be grouped"},
      {{"--hidden", "48", "--heads", "16", "-o", out}, "must be even"},
      {{"--vit-type", "q4_0", "-o", out}, "vision matrices must be f32, f16 or q8_0"},
      {{"--vit-image", "10", "--vit-patch", "14", "-o", out}, "vision patch size = 14"},
      {{"--vision", "--vit-heads", "5", "-o", out}, "not a multiple of 5 heads"},
      {{"--force=1", "-o", out}, "--force takes no value"},
      {{"--vocab", path("missing.gguf"), "-o", out}, "missing.gguf"},
  };
  for (const auto& [args, message] : cases) {
    const CliResult r = run_cli(args);
    EXPECT_NE(r.rc, 0) << message;
    EXPECT_NE(r.err.find(message), std::string::npos) << "expected '" << message << "' in: " << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e :
       fs::directory_iterator(fs::path(out).parent_path()))  // no temporary left (out.tmp-...)
    EXPECT_NE(e.path().filename().string().rfind(fs::path(out).filename().string() + ".tmp", 0), 0u)
        << e.path();
  EXPECT_THROW(gen::parse_type("i32"), Error);
  // A file that is not GGUF as the vocabulary: a BadFile naming it, exit status 1.
  { std::ofstream(path("not.gguf")) << "not a gguf file at all, just text"; }
  const CliResult r = run_cli({"--vocab", path("not.gguf"), "-o", out});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("not.gguf"), std::string::npos) << r.err;
}

TEST(GenPresets, ShapesAsSpecified) {
  const gen::GenOptions b = gen::preset("bluelm-3b");
  EXPECT_EQ(b.llm.arch, "bluelm");
  EXPECT_EQ(b.llm.n_embd, 2560);
  EXPECT_EQ(b.llm.n_layer, 32);
  EXPECT_EQ(b.llm.n_head, 20);
  EXPECT_EQ(b.llm.n_ff, 6912);
  EXPECT_EQ(b.llm.type, DType::Q4_0);
  EXPECT_EQ(b.llm.embd_type, DType::Q8_0);
  EXPECT_FALSE(b.vit);
  const gen::GenOptions v = gen::preset("bluelm-v-3b");
  ASSERT_TRUE(v.vit);
  EXPECT_EQ(v.llm.n_embd, 2560);
  EXPECT_EQ(v.vit->n_embd, 1152);
  EXPECT_EQ(v.vit->n_layer, 27);
  EXPECT_EQ(v.vit->n_head, 16);
  EXPECT_EQ(v.vit->n_ff, 4304);
  EXPECT_EQ(v.vit->image_size, 384);
  EXPECT_EQ(v.vit->patch_size, 14);
  EXPECT_EQ(v.vit->n_patches(), 729);
  EXPECT_EQ(v.vit->type, DType::Q8_0);
  EXPECT_EQ(gen::preset("tiny").llm.arch, "llama");
  EXPECT_THROW(gen::preset("bluelm-7b"), Error);
}

// A tiny custom mmproj: every key and tensor of model-format.md, with the documented shapes and types.
TEST_F(GenModel, MmprojHasTheDocumentedLayout) {
  const int64_t H = 64, F = 100, L = 2, img = 56, P = 14, E = 128;  // F = 100: not whole Q8_0 blocks
  const CliResult r =
      run_cli({"-o", path("m.gguf"), "--mmproj-out", path("v.gguf"), "--vit-hidden", "64", "--vit-layers",
               "2", "--vit-heads", "2", "--vit-ffn", "100", "--vit-image", "56", "--vit-patch", "14"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("written as f16"), std::string::npos) << r.out;
  const auto f = GgufFile::open(path("v.gguf"));
  EXPECT_EQ(f->get_string("general.architecture"), "clip");
  EXPECT_EQ(f->get_bool("clip.has_vision_encoder"), true);
  EXPECT_EQ(f->get_string("clip.projector_type"), "bluelm_v");
  EXPECT_EQ(f->get_int("clip.vision.image_size"), img);
  EXPECT_EQ(f->get_int("clip.vision.patch_size"), P);
  EXPECT_EQ(f->get_int("clip.vision.embedding_length"), H);
  EXPECT_EQ(f->get_int("clip.vision.feed_forward_length"), F);
  EXPECT_EQ(f->get_int("clip.vision.block_count"), L);
  EXPECT_EQ(f->get_int("clip.vision.attention.head_count"), 2);
  EXPECT_NEAR(f->get_float("clip.vision.attention.layer_norm_epsilon").value(), 1e-6, 1e-12);
  EXPECT_EQ(f->get_float_array("clip.vision.image_mean"), (std::vector<float>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(f->get_float_array("clip.vision.image_std"), (std::vector<float>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(f->get_int("clip.vision.projection_dim"), E);
  EXPECT_EQ(f->get_bool("clip.vision.downsample_column_major"), false);
  EXPECT_EQ(f->get_int("clip.vision.max_grid"), 4);
  EXPECT_EQ(f->get_int("clip.vision.max_tiles"), 8);

  // name -> (shape outermost first, ggml type)
  std::map<std::string, std::pair<Shape, uint32_t>> want = {
      {"v.patch_embd.weight", {{H, 3, P, P}, kGgmlF32}},
      {"v.patch_embd.bias", {{H}, kGgmlF32}},
      {"v.position_embd.weight", {{(img / P) * (img / P), H}, kGgmlF32}},
      {"v.post_ln.weight", {{H}, kGgmlF32}},
      {"v.post_ln.bias", {{H}, kGgmlF32}},
      {"mm.model.mlp.0.weight", {{4 * H}, kGgmlF32}},
      {"mm.model.mlp.0.bias", {{4 * H}, kGgmlF32}},
      {"mm.model.mlp.1.weight", {{E, 4 * H}, kGgmlQ8_0}},
      {"mm.model.mlp.1.bias", {{E}, kGgmlF32}},
      {"mm.model.mlp.3.weight", {{E, E}, kGgmlQ8_0}},
      {"mm.model.mlp.3.bias", {{E}, kGgmlF32}},
  };
  for (int il = 0; il < L; ++il) {
    const std::string p = "v.blk." + std::to_string(il) + ".";
    for (const char* n : {"ln1", "ln2"}) {
      want[p + n + ".weight"] = {{H}, kGgmlF32};
      want[p + n + ".bias"] = {{H}, kGgmlF32};
    }
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_out"}) {
      want[p + n + ".weight"] = {{H, H}, kGgmlQ8_0};
      want[p + n + ".bias"] = {{H}, kGgmlF32};
    }
    want[p + "ffn_up.weight"] = {{F, H}, kGgmlQ8_0};
    want[p + "ffn_up.bias"] = {{F}, kGgmlF32};
    want[p + "ffn_down.weight"] = {{H, F}, kGgmlF16};  // 100 inputs: not whole blocks of 32
    want[p + "ffn_down.bias"] = {{H}, kGgmlF32};
  }
  EXPECT_EQ(f->tensors().size(), want.size());
  for (const auto& [name, sw] : want) {
    const GgufTensor* t = f->find_tensor(name);
    ASSERT_TRUE(t) << name;
    EXPECT_EQ(t->shape, sw.first) << name << " is " << t->shape.str();
    EXPECT_EQ(t->ggml_type, sw.second) << name;
    for (float x : dequantized(*t)) ASSERT_TRUE(std::isfinite(x)) << name;
  }
  for (float x : dequantized(f->require_tensor("v.blk.1.ln2.weight"))) ASSERT_EQ(x, 1.0f);

  // The same keys, of the same types, as the golden mmproj (which llama.cpp-side tools produced).
  const auto golden = GgufFile::open(data_path("golden/tiny-v-q8_0.gguf"));
  for (const std::string& k : golden->keys()) {
    EXPECT_TRUE(f->has(k)) << k;
    EXPECT_EQ(f->type(k), golden->type(k)) << k;
  }
  // The LLM written beside it is the projector's target.
  EXPECT_EQ(LlmModel::load(path("m.gguf"))->hparams().n_embd, E);
}

// The same tensor names as the golden mmproj for its shape, and the default mmproj path.
TEST_F(GenModel, MmprojMatchesTheGoldenTensorSet) {
  const CliResult r = run_cli({"-o", path("t.gguf"), "--vision", "--hidden", "256", "--vit-type", "f32"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto f = GgufFile::open(path("t-mmproj.gguf"));
  const auto golden = GgufFile::open(data_path("golden/tiny-v-f32.gguf"));
  ASSERT_EQ(f->tensors().size(), golden->tensors().size());
  for (const GgufTensor& g : golden->tensors()) {
    const GgufTensor* t = f->find_tensor(g.name);
    ASSERT_TRUE(t) << g.name;
    EXPECT_EQ(t->shape, g.shape) << g.name;
    EXPECT_EQ(t->ggml_type, g.ggml_type) << g.name;
  }
  for (const std::string& k : golden->keys()) {
    if (k != "general.name") {
      EXPECT_EQ(f->type(k), golden->type(k)) << k;
    }
  }
  EXPECT_EQ(f->get_int("clip.vision.image_size"), golden->get_int("clip.vision.image_size"));
  EXPECT_EQ(f->get_int("clip.vision.projection_dim"), golden->get_int("clip.vision.projection_dim"));
}

}  // namespace
}  // namespace bluecl
