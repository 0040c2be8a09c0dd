// The multimodal path (host/session/multimodal.h, the C API's images section, bluecl run --image, bluecl
// encode):
//  - mm-tiny-a-v through the C API: tiny-a-f32 + tiny-v-f32, the golden tiles encoded with
//    bluecl_image_encode_tiles, pre_tokens, the image and post_tokens give the float64 reference's logits
//    (NMSE <= 1e-6, every top-1), on the CPU and on OpenCL, at vision batch sizes 1, 2 and 3; and
//    bluecl_generate with the chat template rebuilds the same sequence and predicts the reference's token;
//  - prompt assembly: marker splitting, the template's shape, marker/image count mismatches, BOS once,
//    <im_start>/<im_end> as plain text or as control tokens when the vocabulary has them;
//  - encode_image on a generated PNG: m*n+1 tiles, tokens_per_tile*(m*n+1) tokens, the same at batch 1
//    and 4, the same as the file and RGB entry points, progress per batch and cancelling;
//  - a vision tower whose projection does not fit the language model is refused with both sizes named;
//  - the CLI end to end: bluecl encode matches the golden tokens, bluecl run with an image runs, and bad
//    inputs exit non-zero with a clear message.
#include "bluecl/bluecl.hpp"
#include "graph/base/error.h"
#include "graph/graph.h"
#include "host/gguf/gguf.h"
#include "host/image/tiles.h"
#include "host/session/multimodal.h"
#include "host/util/json.h"
#include "tests/cl_testing.h"
#include "tests/golden.h"
#include "tests/image_encode.h"
#include "tests/testing.h"
#include "tools/model_gen.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include <sys/wait.h>

namespace bluecl::testing {
namespace {

namespace fs = std::filesystem;

const std::string kLlm = data_path("golden/tiny-a-f32.gguf");
const std::string kVit = data_path("golden/tiny-v-f32.gguf");

#define ASSERT_BLUECL_OK(call) ASSERT_EQ((call), BLUECL_OK) << bluecl_last_error()

// A temporary directory removed at the end of the test program.
const std::string& tmp() {
  struct Dir {
    std::string path = temp_dir("bluecl-mm");
    ~Dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Dir d;
  return d.path;
}

ModelPtr load_model(const std::string& path, bool cl, bluecl_progress_callback progress = nullptr,
                    void* user = nullptr) {
  bluecl_model_params mp = bluecl_model_default_params();
  mp.device = cl ? "" : "cpu";
  mp.placement = "device";  // the OpenCL cases are about the device's kernels
  mp.n_threads = 2;
  mp.progress = progress;
  mp.progress_user = user;
  bluecl_model* m = nullptr;
  EXPECT_EQ(bluecl_model_load(path.c_str(), &mp, &m), BLUECL_OK) << bluecl_last_error();
  return ModelPtr(m);
}

SessionPtr make_session(bluecl_model* m, bool all_logits) {
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_ctx = 256;
  sp.kv_type = BLUECL_KV_F32;
  sp.all_logits = all_logits;
  bluecl_session* s = nullptr;
  EXPECT_EQ(bluecl_session_create(m, &sp, &s), BLUECL_OK) << bluecl_last_error();
  return SessionPtr(s);
}

ImagePtr encode_golden_tiles(bluecl_model* m) {
  const std::vector<float> tiles = read_f32(data_path("golden/tiny-v-f32.tiles.f32"));
  bluecl_image* img = nullptr;
  EXPECT_EQ(bluecl_image_encode_tiles(m, tiles.data(), 3, &img), BLUECL_OK) << bluecl_last_error();
  return ImagePtr(img);
}

std::vector<int32_t> golden_ids(const char* key) {
  const Json doc = parse_json(read_text(data_path("golden/mm-tiny-a-v.json")));
  std::vector<int32_t> v;
  for (const Json& t : doc.at(key).as_array()) v.push_back(static_cast<int32_t>(t.as_int()));
  return v;
}

void append_logits(bluecl_session* s, std::vector<float>& all) {
  const float* logits = nullptr;
  size_t rows = 0, n_vocab = 0;
  ASSERT_BLUECL_OK(bluecl_session_logits(s, &logits, &rows, &n_vocab));
  all.insert(all.end(), logits, logits + rows * n_vocab);
}

std::vector<float> image_tokens(const bluecl_image* img) {
  const float* embd = nullptr;
  size_t n = 0, d = 0;
  EXPECT_EQ(bluecl_image_embeddings(img, &embd, &n, &d), BLUECL_OK) << bluecl_last_error();
  return embd ? std::vector<float>(embd, embd + n * d) : std::vector<float>{};
}

double rel_l2(const std::vector<float>& a, const std::vector<float>& ref) {
  EXPECT_EQ(a.size(), ref.size());
  if (a.size() != ref.size() || ref.empty()) return INFINITY;
  return std::sqrt(nmse(a.data(), ref.data(), static_cast<int64_t>(ref.size())));
}

// ---------------------------------------------------------------------------------------------------
// mm-tiny-a-v through the C API.

struct GoldenCase {
  bool cl;
  int32_t batch;
};

class MultimodalCApi : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(MultimodalCApi, GoldenLogits) {
  const GoldenCase& c = GetParam();
  if (c.cl) BLUECL_REQUIRE_CL();
  ModelPtr m = load_model(kLlm, c.cl);
  ASSERT_TRUE(m);
  ASSERT_BLUECL_OK(bluecl_model_load_mmproj(m.get(), kVit.c_str()));
  ASSERT_BLUECL_OK(bluecl_model_set_vision_batch(m.get(), c.batch));
  bluecl_vision_info vi{};
  ASSERT_BLUECL_OK(bluecl_model_get_vision_info(m.get(), &vi));
  EXPECT_EQ(vi.vision_batch, c.batch);
  EXPECT_EQ(vi.tokens_per_tile, 16);
  EXPECT_EQ(vi.proj_dim, 256);
  if (c.cl) {
    bluecl_model_info info{};
    ASSERT_BLUECL_OK(bluecl_model_get_info(m.get(), &info));
    EXPECT_NE(std::string(info.devices).find("cl"), std::string::npos) << info.devices;
  }
  ImagePtr img = encode_golden_tiles(m.get());
  ASSERT_TRUE(img);
  int32_t gm = -1, gn = -1;
  ASSERT_BLUECL_OK(bluecl_image_grid_of(img.get(), &gm, &gn));
  EXPECT_EQ(gm, 0);
  EXPECT_EQ(gn, 0);
  EXPECT_LE(rel_l2(image_tokens(img.get()), read_f32(data_path("golden/tiny-v-f32.tokens.f32"))), 1e-4);

  SessionPtr s = make_session(m.get(), true);
  ASSERT_TRUE(s);
  std::vector<float> logits;
  const std::vector<int32_t> pre = golden_ids("pre_tokens"), post = golden_ids("post_tokens");
  ASSERT_BLUECL_OK(bluecl_session_prefill(s.get(), pre.data(), pre.size()));
  append_logits(s.get(), logits);
  ASSERT_BLUECL_OK(bluecl_session_prefill_image(s.get(), img.get()));
  append_logits(s.get(), logits);
  ASSERT_BLUECL_OK(bluecl_session_prefill(s.get(), post.data(), post.size()));
  append_logits(s.get(), logits);
  EXPECT_EQ(bluecl_session_n_past(s.get()), static_cast<int32_t>(pre.size() + 48 + post.size()));
  const Agreement a =
      compare_logits(logits, read_f32(data_path("golden/mm-tiny-a-v.exact.logits.f32")), 2048);
  EXPECT_LE(a.nmse, 1e-6);
  EXPECT_EQ(a.top1, 1.0);
  std::printf("  mm-tiny-a-v C API %-4s vision batch %d: NMSE vs exact %.3g (top-1 %.1f%%)\n",
              c.cl ? "cl" : "cpu", c.batch, a.nmse, 100 * a.top1);
}

INSTANTIATE_TEST_SUITE_P(All, MultimodalCApi,
                         ::testing::Values(GoldenCase{false, 1}, GoldenCase{false, 2}, GoldenCase{false, 3},
                                           GoldenCase{true, 1}, GoldenCase{true, 2}, GoldenCase{true, 3}),
                         [](const auto& info) {
                           return std::string(info.param.cl ? "cl" : "cpu") + "_batch" +
                                  std::to_string(info.param.batch);
                         });

int capture_token(int32_t token, const char*, size_t, void* user) {
  auto* v = static_cast<std::vector<int32_t>*>(user);
  if (token >= 0) v->push_back(token);
  return 0;
}

// bluecl_generate with the chat template places the image itself and rebuilds the golden sequence
// ("What is in the image?"): 84 prompt tokens, and greedy decoding picks the reference's last-row argmax.
TEST(MultimodalCApi, GenerateRebuildsTheGoldenSequence) {
  ModelPtr m = load_model(kLlm, false);
  ASSERT_BLUECL_OK(bluecl_model_load_mmproj(m.get(), kVit.c_str()));
  ImagePtr img = encode_golden_tiles(m.get());
  SessionPtr s = make_session(m.get(), false);
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = 1;
  gp.sampling.temperature = 0;
  gp.chat = 1;
  const bluecl_image* imgs[] = {img.get()};
  gp.images = imgs;
  gp.n_images = 1;
  std::vector<int32_t> got;
  gp.on_token = capture_token;
  gp.user = &got;
  bluecl_generate_stats st{};
  ASSERT_BLUECL_OK(bluecl_generate(s.get(), "What is in the image?", &gp, &st));
  EXPECT_EQ(st.n_prompt, 84);
  EXPECT_EQ(st.n_generated, 1);
  const std::vector<float> ref = read_f32(data_path("golden/mm-tiny-a-v.exact.logits.f32"));
  const auto last = ref.end() - 2048;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], std::max_element(last, ref.end()) - last);

  // A marker count that does not fit is refused before anything runs.
  SessionPtr s2 = make_session(m.get(), false);
  EXPECT_EQ(bluecl_generate(s2.get(), "one <image> two <image>", &gp, nullptr), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(bluecl_last_error()).find("2 <image> markers for 1 image"), std::string::npos)
      << bluecl_last_error();
  EXPECT_EQ(bluecl_session_n_past(s2.get()), 0);
  // With a vision tower loaded, a marker without an image is an error too.
  gp.n_images = 0;
  EXPECT_EQ(bluecl_generate(s2.get(), "look: <image>", &gp, nullptr), BLUECL_ERR_INVALID_ARGUMENT);
}

// A model without a vision tower keeps reading "<image>" as text; with no images nothing changes.
TEST(MultimodalCApi, TextOnlyModelKeepsMarkersAsText) {
  ModelPtr m = load_model(kLlm, false);
  SessionPtr s = make_session(m.get(), false);
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = 1;
  bluecl_generate_stats st{};
  ASSERT_BLUECL_OK(bluecl_generate(s.get(), "a <image> b", &gp, &st));
  std::vector<int32_t> ids(64);
  size_t n = 0;
  ASSERT_BLUECL_OK(bluecl_tokenize(m.get(), "a <image> b", 11, 1, 0, ids.data(), ids.size(), &n));
  EXPECT_EQ(st.n_prompt, static_cast<int32_t>(n));
}

TEST(MultimodalCApi, Errors) {
  ModelPtr m = load_model(kLlm, false);
  bluecl_image* img = reinterpret_cast<bluecl_image*>(1);
  const std::vector<float> tiles = read_f32(data_path("golden/tiny-v-f32.tiles.f32"));
  // No vision tower yet.
  EXPECT_EQ(bluecl_image_encode_tiles(m.get(), tiles.data(), 3, &img), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(img, nullptr);
  EXPECT_NE(std::string(bluecl_last_error()).find("bluecl_model_load_mmproj"), std::string::npos);
  bluecl_vision_info vi{};
  EXPECT_EQ(bluecl_model_get_vision_info(m.get(), &vi), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bluecl_model_load_mmproj(m.get(), "/nonexistent/x.gguf"), BLUECL_ERR_IO);
  EXPECT_EQ(bluecl_model_load_mmproj(m.get(), kLlm.c_str()), BLUECL_ERR_UNSUPPORTED);  // not an mmproj
  EXPECT_EQ(bluecl_model_load_mmproj(nullptr, kVit.c_str()), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bluecl_model_set_vision_batch(m.get(), 0), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bluecl_model_set_vision_batch(m.get(), 65), BLUECL_ERR_INVALID_ARGUMENT);

  ASSERT_BLUECL_OK(bluecl_model_load_mmproj(m.get(), kVit.c_str()));
  EXPECT_EQ(bluecl_image_encode_tiles(m.get(), tiles.data(), 0, &img), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bluecl_image_encode_tiles(m.get(), nullptr, 1, &img), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bluecl_image_encode_tiles(m.get(), tiles.data(), 1, nullptr), BLUECL_ERR_INVALID_ARGUMENT);
  const std::vector<uint8_t> rgb(12, 0);
  EXPECT_EQ(bluecl_image_encode_rgb(m.get(), rgb.data(), 0, 4, &img), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bluecl_image_encode_rgb(m.get(), rgb.data(), 1 << 16, 1 << 16, &img),
            BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bluecl_image_encode_file(m.get(), "/nonexistent/photo.png", &img), BLUECL_ERR_IO);
  const std::string junk = tmp() + "/junk.png";
  write_file(junk, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0});
  EXPECT_EQ(bluecl_image_encode_file(m.get(), junk.c_str(), &img), BLUECL_ERR_BAD_FILE);
  EXPECT_NE(std::string(bluecl_last_error()).find("junk.png"), std::string::npos) << bluecl_last_error();
  const float* embd = nullptr;
  size_t n = 0, d = 0;
  EXPECT_EQ(bluecl_image_embeddings(nullptr, &embd, &n, &d), BLUECL_ERR_INVALID_ARGUMENT);
  SessionPtr s = make_session(m.get(), false);
  EXPECT_EQ(bluecl_session_prefill_image(s.get(), nullptr), BLUECL_ERR_INVALID_ARGUMENT);
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_images = 1;  // images left NULL
  EXPECT_EQ(bluecl_generate(s.get(), "<image>", &gp, nullptr), BLUECL_ERR_INVALID_ARGUMENT);
  bluecl_image_free(nullptr);  // harmless

  // A replaced vision tower still encodes correctly (its device weights are not confused with the old).
  ASSERT_BLUECL_OK(bluecl_model_load_mmproj(m.get(), data_path("golden/tiny-v-q8_0.gguf").c_str()));
  ImagePtr q8 = encode_golden_tiles(m.get());
  EXPECT_LE(rel_l2(image_tokens(q8.get()), read_f32(data_path("golden/tiny-v-q8_0.tokens.f32"))), 1e-4);

  // The context is checked before anything is fed.
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_ctx = 40;
  bluecl_session* small = nullptr;
  ASSERT_BLUECL_OK(bluecl_session_create(m.get(), &sp, &small));
  SessionPtr small_owner(small);
  EXPECT_EQ(bluecl_session_prefill_image(small, q8.get()), BLUECL_ERR_CONTEXT_FULL);
  EXPECT_EQ(bluecl_session_n_past(small), 0);
}

TEST(MultimodalCApi, VisionOnlyModel) {
  bluecl_model_params mp = bluecl_model_default_params();
  mp.device = "cpu";
  mp.n_threads = 2;
  bluecl_model* raw = nullptr;
  ASSERT_BLUECL_OK(bluecl_model_load_vision(kVit.c_str(), &mp, &raw));
  ModelPtr m(raw);
  ImagePtr img = encode_golden_tiles(m.get());
  EXPECT_LE(rel_l2(image_tokens(img.get()), read_f32(data_path("golden/tiny-v-f32.tokens.f32"))), 1e-4);
  const std::vector<float> tiles = read_f32(data_path("golden/tiny-v-f32.tiles.f32"));
  std::vector<float> vit(3 * 49 * 96);
  size_t n = 0;
  EXPECT_EQ(bluecl_vision_features(m.get(), tiles.data(), 3, vit.data(), vit.size() - 1, &n),
            BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(n, vit.size());
  ASSERT_BLUECL_OK(bluecl_vision_features(m.get(), tiles.data(), 3, vit.data(), vit.size(), &n));
  EXPECT_LE(rel_l2(vit, read_f32(data_path("golden/tiny-v-f32.vit.f32"))), 1e-4);
  // The language-model functions refuse cleanly.
  bluecl_model_info info{};
  EXPECT_EQ(bluecl_model_get_info(m.get(), &info), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(bluecl_last_error()).find("no language model"), std::string::npos);
  int32_t ids[8];
  EXPECT_EQ(bluecl_tokenize(m.get(), "a", 1, 1, 0, ids, 8, &n), BLUECL_ERR_INVALID_ARGUMENT);
  bluecl_session* s = nullptr;
  EXPECT_EQ(bluecl_session_create(m.get(), nullptr, &s), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
}

// ---------------------------------------------------------------------------------------------------
// Prompt assembly.

const Tokenizer& tiny_tokenizer() {
  static const auto tok = Tokenizer::create(load_vocab(*GgufFile::open(kLlm)));
  return *tok;
}

TEST(PromptAssembly, SplitsOnMarkers) {
  const std::vector<PromptPiece> p = split_prompt("a<image>b <image><image> c");
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[0].text, "a");
  EXPECT_TRUE(p[1].image);
  EXPECT_EQ(p[2].text, "b ");
  EXPECT_TRUE(p[3].image && p[4].image);  // no empty text between adjacent markers
  EXPECT_TRUE(p[5].image == false && p[5].text == " c");
  EXPECT_EQ(split_prompt("<image>").size(), 1u);
  EXPECT_TRUE(split_prompt("").empty());
  EXPECT_EQ(split_prompt("<imag>e <Image>").size(), 1u);  // only the exact marker counts
  EXPECT_EQ(count_image_markers("x<image><image>y<image>"), 3u);
  EXPECT_EQ(count_image_markers("<image"), 0u);
}

TEST(PromptAssembly, TemplateShape) {
  EXPECT_EQ(apply_template("Q?", 1, true), "[|Human|]:<im_start><image><im_end>Q?\n[|AI|]:");
  EXPECT_EQ(apply_template("Q?", 2, true),
            "[|Human|]:<im_start><image><im_end><im_start><image><im_end>Q?\n[|AI|]:");
  EXPECT_EQ(apply_template("see <image> here", 1, true), "[|Human|]:see <image> here\n[|AI|]:");
  EXPECT_EQ(apply_template("Q?", 0, true), "[|Human|]:Q?\n[|AI|]:");
  EXPECT_EQ(apply_template("Q?", 1, false), "Q?");
}

// The golden sequence is BlueLM's template around one image, each text piece tokenised on its own.
TEST(PromptAssembly, ReproducesTheGoldenSequence) {
  const std::vector<PromptChunk> c =
      tokenize_prompt(tiny_tokenizer(), "What is in the image?", 1, {.chat = true});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].tokens, golden_ids("pre_tokens"));
  EXPECT_EQ(c[0].image, -1);
  EXPECT_EQ(c[1].image, 0);
  EXPECT_TRUE(c[1].tokens.empty());
  EXPECT_EQ(c[2].tokens, golden_ids("post_tokens"));
}

TEST(PromptAssembly, MarkerCountMustMatch) {
  const Tokenizer& tok = tiny_tokenizer();
  auto message = [&](std::string_view prompt, size_t n, PromptOptions o) -> std::string {
    try {
      tokenize_prompt(tok, prompt, n, o);
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument);
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message("a <image> b <image>", 1, {}).find("2 <image> markers for 1 image"), std::string::npos);
  EXPECT_NE(message("no marker", 1, {}).find("0 <image> markers for 1 image"), std::string::npos);
  EXPECT_NE(message("one <image>", 0, {}).find("1 <image> marker for 0 images"), std::string::npos);
  EXPECT_NE(message("<image>", 2, {.chat = true}).find("1 <image> marker for 2 images"), std::string::npos);
  EXPECT_EQ(message("no marker", 1, {.chat = true}), "");
  // Markers off: "<image>" is text, and images cannot be given.
  EXPECT_NE(message("x", 1, {.image_markers = false}), "");
  const auto c = tokenize_prompt(tok, "a <image> b", 0, {.image_markers = false});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].tokens, tok.encode("a <image> b", true));
}

TEST(PromptAssembly, BosOnlyAtTheStart) {
  const Tokenizer& tok = tiny_tokenizer();
  ASSERT_GE(tok.bos(), 0);
  auto count_bos = [&](const std::vector<PromptChunk>& chunks) {
    size_t n = 0;
    for (const PromptChunk& c : chunks) n += std::count(c.tokens.begin(), c.tokens.end(), tok.bos());
    return n;
  };
  // Starting with an image: BOS still comes first, alone, before it.
  const auto c = tokenize_prompt(tok, "<image>x<image>y", 2, {});
  ASSERT_EQ(c.size(), 5u);
  EXPECT_EQ(c[0].tokens, std::vector<int32_t>{tok.bos()});
  EXPECT_EQ(c[1].image, 0);
  EXPECT_EQ(c[2].tokens, tok.encode("x", false));
  EXPECT_EQ(c[3].image, 1);
  EXPECT_EQ(c[4].tokens, tok.encode("y", false));
  EXPECT_EQ(count_bos(c), 1u);
  // Adjacent images have no text between them; the session is not empty: no BOS at all.
  const auto d = tokenize_prompt(tok, "<image><image>", 2, {.add_bos = false});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].image, 0);
  EXPECT_EQ(d[1].image, 1);
  EXPECT_EQ(count_bos(tokenize_prompt(tok, "a<image>b", 1, {.chat = true, .add_bos = false})), 0u);
}

// Where the vocabulary lacks <im_start>/<im_end> they are text; where it has them as control tokens,
// they become those tokens (with parse_special).
TEST(PromptAssembly, ImStartAndImEnd) {
  const Tokenizer& plain = tiny_tokenizer();
  const auto a = tokenize_prompt(plain, "Q", 1, {.chat = true});
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(a[0].tokens.front(), plain.bos());
  EXPECT_EQ(plain.decode(std::vector<int32_t>(a[0].tokens.begin() + 1, a[0].tokens.end())),
            "[|Human|]:<im_start>");
  EXPECT_GT(a[0].tokens.size(), 3u);

  Vocab v = plain.vocab();
  for (const char* t : {"<im_start>", "<im_end>"}) {
    v.tokens.emplace_back(t);
    v.scores.push_back(0.0f);
    v.types.push_back(static_cast<int32_t>(TokenType::Control));
  }
  const auto tok = Tokenizer::create(v);
  const int32_t im_start = 2048, im_end = 2049;
  const auto b = tokenize_prompt(*tok, "Q", 1, {.chat = true});
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].tokens.back(), im_start);
  EXPECT_EQ(b[0].tokens.front(), tok->bos());
  EXPECT_EQ(b[2].tokens.front(), im_end);
  EXPECT_EQ(std::count(b[2].tokens.begin(), b[2].tokens.end(), im_end), 1);
  const auto c = tokenize_prompt(*tok, "Q", 1, {.chat = true, .parse_special = false});
  EXPECT_EQ(std::count(c[0].tokens.begin(), c[0].tokens.end(), im_start), 0);
}

// ---------------------------------------------------------------------------------------------------
// encode_image on a real image file.

std::string write_png(const std::string& name, int w, int h) {
  PngSpec spec{.width = w, .height = h};
  spec.rows.resize(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        spec.rows[(size_t(y) * w + x) * 3 + c] =
            static_cast<uint8_t>((x * (3 + c) + y * (7 - c) + (x * y) / 5) & 255);
  const std::string path = tmp() + "/" + name;
  write_file(path, encode_png(spec));
  return path;
}

TEST(EncodeImage, GridTilesAndBatches) {
  const std::string png = write_png("wide.png", 300, 130);
  const auto vit = VitModel::load(kVit);
  Devices cpu({.device = "cpu", .n_threads = 2});
  const Image img = decode_image(png);
  const Grid g = select_grid_relaxed(img.width, img.height, vit->grid_options());
  ASSERT_GT(g.n_tiles(), 1);  // a real grid, not just 1:1
  VisionEncoder one(*vit, cpu, {.batch = 1}), four(*vit, cpu, {.batch = 4});
  std::vector<float> fractions;
  const ImageEmbeddings a = encode_image(one, *vit, img);
  const ImageEmbeddings b = encode_image(four, *vit, img, [&](float f) { fractions.push_back(f); });
  EXPECT_EQ(a.grid, g);
  EXPECT_EQ(a.n_tiles, g.n_tiles() + 1);
  EXPECT_EQ(a.n_tokens(), 16 * (g.n_tiles() + 1));
  EXPECT_EQ(a.tokens.size(), static_cast<size_t>(a.n_tokens() * 256));
  EXPECT_LE(rel_l2(b.tokens, a.tokens), 1e-6);
  EXPECT_GT(rel_l2(b.tokens, std::vector<float>(b.tokens.size(), 0.0f)), 0.5);
  // Progress once per batch of 4, ending at 1.
  ASSERT_EQ(fractions.size(), static_cast<size_t>((a.n_tiles + 3) / 4));
  EXPECT_FLOAT_EQ(fractions.back(), 1.0f);
  // The same as cutting the tiles by hand (thumbnail first, the mmproj's normalisation).
  const Tiles t = make_tiles(img, g, vit->tile_options());
  EXPECT_LE(rel_l2(encode_tiles(four, *vit, t.data).tokens, a.tokens), 1e-6);
  // The thumbnail is tile 0: its tokens are those of the thumbnail alone.
  const std::vector<float> thumb(t.data.begin(), t.data.begin() + vit->hparams().tile_floats());
  const std::vector<float> first(a.tokens.begin(), a.tokens.begin() + 16 * 256);
  EXPECT_LE(rel_l2(encode_tiles(one, *vit, thumb).tokens, first), 1e-6);
}

int count_progress(const char* stage, float, void* user) {
  auto* calls = static_cast<std::map<std::string, int>*>(user);
  ++(*calls)[stage];
  return (*calls)["cancel"] > 0 && std::string(stage) == "encoding image";
}

TEST(EncodeImage, CApiFileRgbProgressAndCancel) {
  const std::string png = write_png("tall.png", 120, 260);
  std::map<std::string, int> calls;
  ModelPtr m = load_model(kLlm, false, count_progress, &calls);
  ASSERT_BLUECL_OK(bluecl_model_load_mmproj(m.get(), kVit.c_str()));
  ASSERT_BLUECL_OK(bluecl_model_set_vision_batch(m.get(), 2));
  bluecl_image* raw = nullptr;
  ASSERT_BLUECL_OK(bluecl_image_encode_file(m.get(), png.c_str(), &raw));
  ImagePtr from_file(raw);
  int32_t gm = 0, gn = 0;
  ASSERT_BLUECL_OK(bluecl_image_grid_of(raw, &gm, &gn));
  const auto vit = VitModel::load(kVit);
  EXPECT_EQ((Grid{gm, gn}), select_grid_relaxed(120, 260, vit->grid_options()));
  const int n_tiles = gm * gn + 1;
  EXPECT_EQ(calls["encoding image"], (n_tiles + 1) / 2);
  EXPECT_EQ(image_tokens(raw).size(), static_cast<size_t>(n_tiles * 16 * 256));

  const Image img = decode_image(png);
  ASSERT_BLUECL_OK(bluecl_image_encode_rgb(m.get(), img.rgb.data(), img.width, img.height, &raw));
  ImagePtr from_rgb(raw);
  EXPECT_EQ(image_tokens(from_rgb.get()), image_tokens(from_file.get()));

  // Encoding is decoupled: the call returns at once, and the cancellation is what the image reports.
  calls["cancel"] = 1;
  raw = nullptr;
  ASSERT_BLUECL_OK(bluecl_image_encode_file(m.get(), png.c_str(), &raw));
  ImagePtr cancelled(raw);
  EXPECT_EQ(bluecl_image_wait(raw), BLUECL_ERR_CANCELLED);
  const float* e = nullptr;
  size_t nt = 0, ne = 0;
  EXPECT_EQ(bluecl_image_embeddings(raw, &e, &nt, &ne), BLUECL_ERR_CANCELLED);
}

// ---------------------------------------------------------------------------------------------------
// A vision tower that does not belong to the language model.

TEST(ProjectionMismatch, IsRefusedNamingBothSizes) {
  gen::GenOptions o = gen::preset("tiny");  // LLM hidden 128: its mmproj projects to 128
  o.vit = gen::preset_vision("tiny");
  o.vit->type = DType::F32;
  o.out = tmp() + "/gen-llm.gguf";
  o.mmproj_out = tmp() + "/gen-mmproj.gguf";
  o.vocab = data_path("vocab/ggml-vocab-llama-spm.gguf");
  o.force = true;
  gen::generate(o);

  const auto vit = VitModel::load(o.mmproj_out);
  const auto llm = LlmModel::load(kLlm);
  ASSERT_EQ(vit->hparams().proj_dim, 128);
  try {
    check_projection(*vit, *llm);
    ADD_FAILURE() << "a 128-dim projection was accepted for a 256-dim model";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("128"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(check_projection(*VitModel::load(kVit), *llm));

  ModelPtr m = load_model(kLlm, false);
  EXPECT_EQ(bluecl_model_load_mmproj(m.get(), o.mmproj_out.c_str()), BLUECL_ERR_INVALID_ARGUMENT);
  const std::string msg = bluecl_last_error();
  EXPECT_NE(msg.find("128"), std::string::npos) << msg;
  EXPECT_NE(msg.find("256"), std::string::npos) << msg;

  // An image from the other tower cannot be fed to this model's session either.
  bluecl_model_params mp = bluecl_model_default_params();
  mp.device = "cpu";
  bluecl_model* raw = nullptr;
  ASSERT_BLUECL_OK(bluecl_model_load_vision(o.mmproj_out.c_str(), &mp, &raw));
  ModelPtr other(raw);
  ImagePtr img = encode_golden_tiles(other.get());
  SessionPtr s = make_session(m.get(), false);
  EXPECT_EQ(bluecl_session_prefill_image(s.get(), img.get()), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(bluecl_last_error()).find("128"), std::string::npos) << bluecl_last_error();
  EXPECT_EQ(bluecl_session_n_past(s.get()), 0);
}

// ---------------------------------------------------------------------------------------------------
// The CLI end to end.

struct Cli {
  int rc;
  std::string err;
};

Cli run_cli(const std::string& args) {
  const std::string err_path = tmp() + "/stderr.txt";
  const std::string cmd =
      std::string(BLUECL_CLI_PATH) + " " + args + " > " + tmp() + "/stdout.txt 2> " + err_path;
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(err_path)};
}

TEST(Cli, EncodeMatchesTheGoldenTokens) {
  const std::string out = tmp() + "/tokens.f32", vit_out = tmp() + "/vit.f32";
  const Cli r = run_cli("encode --mmproj " + kVit + " --tiles " + data_path("golden/tiny-v-f32.tiles.f32") +
                        " --n-tiles 3 --out " + out + " --vit-out " + vit_out + " --batch 2 --device cpu");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_LE(rel_l2(read_f32(out), read_f32(data_path("golden/tiny-v-f32.tokens.f32"))), 1e-4);
  EXPECT_LE(rel_l2(read_f32(vit_out), read_f32(data_path("golden/tiny-v-f32.vit.f32"))), 1e-4);

  const std::string png = write_png("cli.png", 200, 200);
  const Cli img = run_cli("encode --mmproj " + kVit + " --image " + png + " --out " + out + " --device cpu");
  ASSERT_EQ(img.rc, 0) << img.err;
  EXPECT_NE(img.err.find("grid "), std::string::npos) << img.err;
  EXPECT_EQ(read_f32(out).size() % (16 * 256), 0u);

  const Cli bad = run_cli("encode --mmproj " + kVit + " --tiles " + data_path("golden/tiny-v-f32.tiles.f32") +
                          " --n-tiles 2 --out " + out + " --device cpu");
  EXPECT_NE(bad.rc, 0);
  EXPECT_NE(bad.err.find("expected"), std::string::npos) << bad.err;
  EXPECT_NE(run_cli("encode --mmproj " + kVit + " --out " + out).rc, 0);  // no input
}

TEST(Cli, RunWithAnImage) {
  const std::string png = write_png("run.png", 260, 180);
  const std::string base = "run -m " + kLlm + " --mmproj " + kVit + " -n 4 --seed 1 --device cpu ";
  const Cli ok = run_cli(base + "--image " + png + " --chat -p \"What is in the image?\"");
  ASSERT_EQ(ok.rc, 0) << ok.err;
  EXPECT_NE(ok.err.find("image tokens"), std::string::npos) << ok.err;
  EXPECT_NE(ok.err.find("grid "), std::string::npos) << ok.err;
  const Cli two =
      run_cli(base + "--image " + png + " --image " + png + " --vision-batch 3 -p \"<image> vs <image>\"");
  EXPECT_EQ(two.rc, 0) << two.err;

  const Cli missing = run_cli(base + "--image " + tmp() + "/nope.png --chat -p x");
  EXPECT_NE(missing.rc, 0);
  EXPECT_NE(missing.err.find("nope.png"), std::string::npos) << missing.err;
  const std::string corrupt = tmp() + "/corrupt.png";
  std::vector<uint8_t> bytes = read_bytes(png);
  bytes.resize(bytes.size() / 2);
  write_file(corrupt, bytes);
  const Cli broken = run_cli(base + "--image " + corrupt + " --chat -p x");
  EXPECT_NE(broken.rc, 0);
  EXPECT_NE(broken.err.find("corrupt"), std::string::npos) << broken.err;
  const Cli no_mmproj = run_cli("run -m " + kLlm + " --image " + png + " -p x --device cpu");
  EXPECT_NE(no_mmproj.rc, 0);
  EXPECT_NE(no_mmproj.err.find("--mmproj"), std::string::npos) << no_mmproj.err;
  const Cli no_marker = run_cli(base + "--image " + png + " -p \"no marker\"");
  EXPECT_NE(no_marker.rc, 0);
  EXPECT_NE(no_marker.err.find("<image>"), std::string::npos) << no_marker.err;
}

}  // namespace
}  // namespace bluecl::testing
