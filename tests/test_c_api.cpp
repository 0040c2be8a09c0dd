// The C API end to end on the golden tiny models: loading, info, tokenisation, sessions (logits equal the
// float64 reference), generation with streaming, stop strings and cancellation, and the status codes and
// messages of bad input (corrupt files, bad arguments, a prompt past the context).
#include "bluecl/bluecl.hpp"
#include "host/session/sampler.h"
#include "tests/cl_testing.h"
#include "tests/golden.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bluecl::testing {
namespace {

ModelPtr load(const std::string& stem, const char* device = "cpu") {
  bluecl_model_params p = bluecl_model_default_params();
  p.device = device;
  p.placement = "device";  // the OpenCL tests are about the device's kernels
  p.exact_cpu = 1;         // and compare with the float64 reference
  bluecl_model* m = nullptr;
  const bluecl_status st = bluecl_model_load(data_path("golden/" + stem + ".gguf").c_str(), &p, &m);
  EXPECT_EQ(st, BLUECL_OK) << bluecl_last_error();
  return ModelPtr(m);
}

SessionPtr session(bluecl_model* m, int32_t n_ctx = 256, bluecl_kv_type kv = BLUECL_KV_F32,
                   int all_logits = 0) {
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_ctx = n_ctx;
  sp.kv_type = kv;
  sp.all_logits = all_logits;
  bluecl_session* s = nullptr;
  EXPECT_EQ(bluecl_session_create(m, &sp, &s), BLUECL_OK) << bluecl_last_error();
  return SessionPtr(s);
}

TEST(CApi, ModelInfo) {
  ModelPtr m = load("tiny-c-bluelm-q4_0");
  bluecl_model_info info;
  ASSERT_EQ(bluecl_model_get_info(m.get(), &info), BLUECL_OK);
  EXPECT_STREQ(info.arch, "bluelm");
  EXPECT_EQ(info.n_vocab, 2048);
  EXPECT_EQ(info.n_embd, 256);
  EXPECT_EQ(info.n_layer, 2);
  EXPECT_EQ(info.n_head, 2);
  EXPECT_GT(info.weight_bytes, 0u);
  EXPECT_EQ(info.bos, 1);
  EXPECT_NE(std::string(info.devices).find("cpu"), std::string::npos);
}

// bluecl.hpp's owners: bluecl::out leaves the owner empty when the call fails and takes the new handle
// when it succeeds.
TEST(CApi, HandleOwnersTakeNewHandles) {
  bluecl_model_params p = bluecl_model_default_params();
  p.device = "cpu";
  ModelPtr m;
  EXPECT_NE(bluecl_model_load(data_path("golden/no-such-model.gguf").c_str(), &p, bluecl::out(m)), BLUECL_OK);
  EXPECT_EQ(m, nullptr);
  ASSERT_EQ(bluecl_model_load(data_path("golden/tiny-a-q4_0.gguf").c_str(), &p, bluecl::out(m)), BLUECL_OK)
      << bluecl_last_error();
  ASSERT_NE(m, nullptr);
  SessionPtr s;
  ASSERT_EQ(bluecl_session_create(m.get(), nullptr, bluecl::out(s)), BLUECL_OK) << bluecl_last_error();
  const int32_t bos = 1;
  EXPECT_EQ(bluecl_session_prefill(s.get(), &bos, 1), BLUECL_OK) << bluecl_last_error();
  EXPECT_EQ(bluecl_session_n_past(s.get()), 1);
}

TEST(CApi, TokenizeRoundTrip) {
  bluecl_model_params p = bluecl_model_default_params();
  p.vocab_only = 1;
  bluecl_model* raw = nullptr;
  ASSERT_EQ(bluecl_model_load(data_path("vocab/ggml-vocab-llama-spm.gguf").c_str(), &p, &raw), BLUECL_OK)
      << bluecl_last_error();
  ModelPtr m(raw);
  const std::string text = "Hello world, this is bluecl.";
  int32_t ids[64];
  size_t n = 0;
  ASSERT_EQ(bluecl_tokenize(m.get(), text.data(), text.size(), 1, 0, ids, 64, &n), BLUECL_OK);
  EXPECT_EQ(ids[0], 1);  // BOS
  // Too small a buffer reports the size needed.
  size_t needed = 0;
  EXPECT_EQ(bluecl_tokenize(m.get(), text.data(), text.size(), 1, 0, ids, 2, &needed),
            BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(needed, n);
  char back[128];
  size_t len = 0;
  ASSERT_EQ(bluecl_detokenize(m.get(), ids + 1, n - 1, back, sizeof back, &len), BLUECL_OK);
  EXPECT_EQ(std::string(back, len), text);
  // A vocabulary-only model cannot run.
  bluecl_session* s = nullptr;
  EXPECT_EQ(bluecl_session_create(m.get(), nullptr, &s), BLUECL_ERR_INVALID_ARGUMENT);
}

void check_logits_against_exact(const char* device) {
  ModelPtr m = load("tiny-a-q4_0", device);
  SessionPtr s = session(m.get(), 256, BLUECL_KV_F32, 1);
  const GoldenTokens t = read_golden_tokens(data_path("golden/tiny-a-q4_0.tokens.json"));
  const std::vector<int32_t> all = t.all();
  ASSERT_EQ(bluecl_session_prefill(s.get(), all.data(), all.size()), BLUECL_OK) << bluecl_last_error();
  const float* logits = nullptr;
  size_t rows = 0, n_vocab = 0;
  ASSERT_EQ(bluecl_session_logits(s.get(), &logits, &rows, &n_vocab), BLUECL_OK);
  ASSERT_EQ(rows, all.size());
  const std::vector<float> got(logits, logits + rows * n_vocab);
  const Agreement a =
      compare_logits(got, read_f32(data_path("golden/tiny-a-q4_0.exact.logits.f32")), n_vocab);
  EXPECT_LE(a.nmse, 1e-6);
  EXPECT_EQ(a.top1, 1.0);
  EXPECT_EQ(bluecl_session_n_past(s.get()), static_cast<int32_t>(all.size()));
}

TEST(CApi, LogitsMatchExactOnCpu) {
  check_logits_against_exact("cpu");
}

TEST(CApi, LogitsMatchExactOnOpenCl) {
  BLUECL_REQUIRE_CL();
  check_logits_against_exact("");
}

struct Collected {
  std::string text;
  int calls = 0;
  int cancel_after = -1;
};

int collect(int32_t, const char* text, size_t len, void* user) {
  auto* c = static_cast<Collected*>(user);
  c->text.append(text, len);
  return ++c->calls == c->cancel_after;
}

std::string greedy_text(bluecl_model* m, int n, bluecl_generate_stats* stats,
                        const std::vector<const char*>& stops = {}, int cancel_after = -1) {
  SessionPtr s = session(m);
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = n;
  gp.sampling.temperature = 0;
  gp.stop = stops.data();
  gp.n_stop = stops.size();
  Collected c;
  c.cancel_after = cancel_after;
  gp.on_token = collect;
  gp.user = &c;
  EXPECT_EQ(bluecl_generate(s.get(), "The quick brown fox", &gp, stats), BLUECL_OK) << bluecl_last_error();
  return c.text;
}

TEST(CApi, GenerateStreamsStopsAndCancels) {
  ModelPtr m = load("tiny-a-f32");
  bluecl_generate_stats st;
  const std::string full = greedy_text(m.get(), 24, &st);
  EXPECT_EQ(st.n_generated, 24);
  EXPECT_EQ(st.stop_reason, BLUECL_STOP_BUDGET);
  int32_t ids[32];
  size_t n_ids = 0;
  ASSERT_EQ(bluecl_tokenize(m.get(), "The quick brown fox", 19, 1, 0, ids, 32, &n_ids), BLUECL_OK);
  EXPECT_EQ(st.n_prompt, static_cast<int32_t>(n_ids));
  ASSERT_GT(full.size(), 12u);
  // A stop string taken from the middle of the greedy text: generation ends there and it is not printed.
  const std::string stop = full.substr(full.size() / 2, 3);
  const size_t at = full.find(stop);
  const std::string stopped = greedy_text(m.get(), 24, &st, {stop.c_str()});
  EXPECT_EQ(st.stop_reason, BLUECL_STOP_STRING);
  EXPECT_EQ(stopped, full.substr(0, at));
  // The callback cancels after 5 tokens.
  greedy_text(m.get(), 24, &st, {}, 5);
  EXPECT_EQ(st.stop_reason, BLUECL_STOP_CANCELLED);
  EXPECT_EQ(st.n_generated, 5);
}

TEST(CApi, ContextOverflowIsAnError) {
  ModelPtr m = load("tiny-a-f32");
  SessionPtr s = session(m.get(), 16);
  std::vector<int32_t> ids(17, 100);
  EXPECT_EQ(bluecl_session_prefill(s.get(), ids.data(), ids.size()), BLUECL_ERR_CONTEXT_FULL);
  EXPECT_NE(std::string(bluecl_last_error()).find("exceed the context of 16"), std::string::npos)
      << bluecl_last_error();
  // Filling it exactly works, and then generation stops with "context full".
  ASSERT_EQ(bluecl_session_prefill(s.get(), ids.data(), 15), BLUECL_OK) << bluecl_last_error();
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = 10;
  gp.sampling.temperature = 0;
  bluecl_generate_stats st;
  ASSERT_EQ(bluecl_generate(s.get(), "", &gp, &st), BLUECL_OK) << bluecl_last_error();
  EXPECT_EQ(st.stop_reason, BLUECL_STOP_CONTEXT);
  EXPECT_EQ(bluecl_session_n_past(s.get()), 16);
}

int collect_id(int32_t token, const char*, size_t, void* user) {
  if (token >= 0) static_cast<std::vector<int32_t>*>(user)->push_back(token);
  return 0;
}

// bluecl_session_decode drives a caller's own loop: greedy by hand gives bluecl_generate's tokens.
TEST(CApi, DecodeOneStepMatchesGenerate) {
  ModelPtr m = load("tiny-a-q4_0");
  const std::vector<int32_t> prompt = {1, 450, 1996, 354, 1701, 916};
  SessionPtr a = session(m.get(), 32), b = session(m.get(), 32);
  ASSERT_EQ(bluecl_session_prefill(a.get(), prompt.data(), prompt.size()), BLUECL_OK);
  ASSERT_EQ(bluecl_session_prefill(b.get(), prompt.data(), prompt.size()), BLUECL_OK);
  std::vector<int32_t> want;
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = 10;
  gp.sampling.temperature = 0;
  gp.on_token = collect_id;
  gp.user = &want;
  ASSERT_EQ(bluecl_generate(a.get(), "", &gp, nullptr), BLUECL_OK) << bluecl_last_error();
  ASSERT_FALSE(want.empty());
  const float* logits = nullptr;
  size_t rows = 0, n_vocab = 0;
  ASSERT_EQ(bluecl_session_logits(b.get(), &logits, &rows, &n_vocab), BLUECL_OK);
  std::vector<int32_t> got;
  while (got.size() < want.size()) {
    const int32_t t = argmax(std::span<const float>(logits, n_vocab));
    got.push_back(t);
    size_t nv = 0;
    ASSERT_EQ(bluecl_session_decode(b.get(), t, &logits, &nv), BLUECL_OK) << bluecl_last_error();
    EXPECT_EQ(nv, n_vocab);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(bluecl_session_n_past(b.get()), static_cast<int32_t>(prompt.size() + got.size()));
  // A full context refuses the step and keeps the session as it was.
  while (bluecl_session_n_past(b.get()) < 32)
    ASSERT_EQ(bluecl_session_decode(b.get(), 5, &logits, nullptr), BLUECL_OK);
  EXPECT_EQ(bluecl_session_decode(b.get(), 5, &logits, nullptr), BLUECL_ERR_CONTEXT_FULL);
  EXPECT_EQ(bluecl_session_n_past(b.get()), 32);
  EXPECT_EQ(bluecl_session_decode(b.get(), 5, nullptr, nullptr), BLUECL_ERR_INVALID_ARGUMENT);
}

TEST(CApi, BadInputGivesStatusAndMessage) {
  bluecl_model* m = nullptr;
  EXPECT_EQ(bluecl_model_load("/nonexistent/model.gguf", nullptr, &m), BLUECL_ERR_IO);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(bluecl_last_error()).find("/nonexistent/model.gguf"), std::string::npos);
  EXPECT_EQ(bluecl_model_load(nullptr, nullptr, &m), BLUECL_ERR_INVALID_ARGUMENT);
  // A truncated model file.
  const std::string dir = temp_dir("bluecl-capi");
  const std::vector<uint8_t> bytes = read_bytes(data_path("golden/tiny-a-q4_0.gguf"));
  const std::string cut = dir + "/cut.gguf";
  std::ofstream(cut, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size() / 2);
  bluecl_model_params p = bluecl_model_default_params();
  p.device = "cpu";
  EXPECT_EQ(bluecl_model_load(cut.c_str(), &p, &m), BLUECL_ERR_BAD_FILE);
  EXPECT_NE(std::string(bluecl_last_error()).find("cut.gguf"), std::string::npos) << bluecl_last_error();
  // A vocabulary file is not a model: its architecture (gpt2) is named.
  EXPECT_EQ(bluecl_model_load(data_path("vocab/ggml-vocab-gpt-2.gguf").c_str(), &p, &m),
            BLUECL_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(bluecl_last_error()).find("'gpt2'"), std::string::npos) << bluecl_last_error();
  // An OpenCL device that does not exist.
  p.device = "no-such-device";
  EXPECT_EQ(bluecl_model_load(data_path("golden/tiny-a-q4_0.gguf").c_str(), &p, &m), BLUECL_ERR_DEVICE);
  EXPECT_NE(std::string(bluecl_last_error()).find("no-such-device"), std::string::npos);
  // NULL handles and out-of-vocabulary ids.
  EXPECT_EQ(bluecl_session_prefill(nullptr, nullptr, 0), BLUECL_ERR_INVALID_ARGUMENT);
  ModelPtr ok = load("tiny-a-f32");
  SessionPtr s = session(ok.get());
  const int32_t bad = 5000;
  EXPECT_EQ(bluecl_session_prefill(s.get(), &bad, 1), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(bluecl_last_error()).find("5000"), std::string::npos);
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.sampling.top_p = 0;
  EXPECT_EQ(bluecl_generate(s.get(), "x", &gp, nullptr), BLUECL_ERR_INVALID_ARGUMENT);
  std::filesystem::remove_all(dir);
}

TEST(CApi, StatusNames) {
  EXPECT_STREQ(bluecl_status_name(BLUECL_OK), "ok");
  EXPECT_STREQ(bluecl_status_name(BLUECL_ERR_CONTEXT_FULL), "context full");
  EXPECT_STREQ(bluecl_status_name(BLUECL_ERR_BAD_FILE), "bad file");
}

}  // namespace
}  // namespace bluecl::testing
