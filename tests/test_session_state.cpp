// Session state save and load through the C API (bluecl_session_state_*), with the KV cache on the CPU
// and on the OpenCL device the run names (BLUECL_DEVICE, one CTest entry per implementation): a state
// saved after a prompt continues with the same greedy tokens in a new session (from memory and from a
// file, into a larger context, across devices, with image embeddings in the history), and every state
// that does not fit is refused with its status and a message, the session left as it was: another model,
// another KV type, a context too small, a truncated, corrupt or newer state, a missing file.
#include "bluecl/bluecl.hpp"
#include "tests/cl_testing.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bluecl::testing {
namespace {

// "cpu", or "" for the OpenCL device BLUECL_DEVICE names. Exact CPU arithmetic, every op on the device:
// greedy tokens then agree across devices (as in test_llm_golden).
ModelPtr load(const std::string& stem, const char* device) {
  bluecl_model_params p = bluecl_model_default_params();
  p.device = device;
  p.placement = "device";
  p.exact_cpu = 1;
  ModelPtr m;
  EXPECT_EQ(bluecl_model_load(data_path("golden/" + stem + ".gguf").c_str(), &p, out(m)), BLUECL_OK)
      << bluecl_last_error();
  return m;
}

SessionPtr session(bluecl_model* m, bluecl_kv_type kv, int32_t n_ctx = 128) {
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_ctx = n_ctx;
  sp.n_chunk = 16;
  sp.kv_type = kv;
  SessionPtr s;
  EXPECT_EQ(bluecl_session_create(m, &sp, out(s)), BLUECL_OK) << bluecl_last_error();
  return s;
}

std::vector<int32_t> tokenize(bluecl_model* m, const std::string& text) {
  std::vector<int32_t> ids(256);
  size_t n = 0;
  EXPECT_EQ(bluecl_tokenize(m, text.data(), text.size(), 1, 0, ids.data(), ids.size(), &n), BLUECL_OK);
  ids.resize(n);
  return ids;
}

int collect_id(int32_t token, const char*, size_t, void* user) {
  if (token >= 0) static_cast<std::vector<int32_t>*>(user)->push_back(token);
  return 0;
}

// n greedy tokens from what the session holds.
std::vector<int32_t> greedy(bluecl_session* s, int n) {
  std::vector<int32_t> ids;
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = n;
  gp.sampling.temperature = 0;
  gp.on_token = collect_id;
  gp.user = &ids;
  EXPECT_EQ(bluecl_generate(s, "", &gp, nullptr), BLUECL_OK) << bluecl_last_error();
  return ids;
}

std::vector<uint8_t> save(bluecl_session* s) {
  size_t size = 0;
  EXPECT_EQ(bluecl_session_state_size(s, &size), BLUECL_OK) << bluecl_last_error();
  std::vector<uint8_t> bytes(size);
  size_t written = 0;
  EXPECT_EQ(bluecl_session_state_save(s, bytes.data(), bytes.size(), &written), BLUECL_OK)
      << bluecl_last_error();
  EXPECT_EQ(written, size);
  return bytes;
}

std::vector<int32_t> tokens_of(const bluecl_session* s) {
  size_t n = 0;
  const bluecl_status st = bluecl_session_tokens(s, nullptr, 0, &n);  // asks for the count
  EXPECT_EQ(st, n == 0 ? BLUECL_OK : BLUECL_ERR_INVALID_ARGUMENT);
  std::vector<int32_t> ids(n);
  EXPECT_EQ(bluecl_session_tokens(s, ids.data(), ids.size(), &n), BLUECL_OK) << bluecl_last_error();
  return ids;
}

constexpr int kContinue = 12;
const char* const kPrompt = "The quick brown fox jumps over the lazy dog, and then";

// Prefill, save, continue; a new session loads and continues the same way, from memory and from a file
// (into a session with a larger context).
void round_trip(const char* device, bluecl_kv_type kv) {
  SCOPED_TRACE(std::string("device '") + device + "', kv " + std::to_string(kv));
  ModelPtr m = load("tiny-a-q4_0", device);
  SessionPtr a = session(m.get(), kv);
  const std::vector<int32_t> prompt = tokenize(m.get(), kPrompt);
  ASSERT_EQ(bluecl_session_prefill(a.get(), prompt.data(), prompt.size()), BLUECL_OK) << bluecl_last_error();
  const std::vector<uint8_t> state = save(a.get());
  const std::string dir = temp_dir("bluecl-state");
  const std::string file = dir + "/a.state";
  ASSERT_EQ(bluecl_session_state_save_file(a.get(), file.c_str()), BLUECL_OK) << bluecl_last_error();
  EXPECT_EQ(tokens_of(a.get()), prompt);
  const std::vector<int32_t> want = greedy(a.get(), kContinue);
  ASSERT_EQ(want.size(), static_cast<size_t>(kContinue));

  SessionPtr b = session(m.get(), kv);
  ASSERT_EQ(bluecl_session_state_load(b.get(), state.data(), state.size()), BLUECL_OK) << bluecl_last_error();
  EXPECT_EQ(bluecl_session_n_past(b.get()), static_cast<int32_t>(prompt.size()));
  EXPECT_EQ(tokens_of(b.get()), prompt);
  EXPECT_EQ(greedy(b.get(), kContinue), want);

  SessionPtr c = session(m.get(), kv, 256);
  ASSERT_EQ(bluecl_session_state_load_file(c.get(), file.c_str()), BLUECL_OK) << bluecl_last_error();
  EXPECT_EQ(bluecl_session_n_past(c.get()), static_cast<int32_t>(prompt.size()));
  EXPECT_EQ(greedy(c.get(), kContinue), want);
  // Loading again replaces what the session held (the continuation just generated).
  ASSERT_EQ(bluecl_session_state_load(c.get(), state.data(), state.size()), BLUECL_OK) << bluecl_last_error();
  EXPECT_EQ(greedy(c.get(), kContinue), want);
  std::filesystem::remove_all(dir);
}

TEST(SessionState, RoundTripOnCpu) {
  for (bluecl_kv_type kv : {BLUECL_KV_F32, BLUECL_KV_F16, BLUECL_KV_Q8_0}) round_trip("cpu", kv);
}

TEST(SessionState, RoundTripOnOpenCl) {
  BLUECL_REQUIRE_CL();
  for (bluecl_kv_type kv : {BLUECL_KV_F32, BLUECL_KV_F16, BLUECL_KV_Q8_0}) round_trip("", kv);
}

// The cache's bytes are the same on every device: a state saved with the cache on the CPU continues on
// the OpenCL device, and back.
TEST(SessionState, MovesBetweenCpuAndOpenCl) {
  BLUECL_REQUIRE_CL();
  ModelPtr cpu = load("tiny-a-q4_0", "cpu"), cl = load("tiny-a-q4_0", "");
  SessionPtr a = session(cpu.get(), BLUECL_KV_F32);
  const std::vector<int32_t> prompt = tokenize(cpu.get(), kPrompt);
  ASSERT_EQ(bluecl_session_prefill(a.get(), prompt.data(), prompt.size()), BLUECL_OK);
  const std::vector<uint8_t> state = save(a.get());
  SessionPtr b = session(cl.get(), BLUECL_KV_F32);
  ASSERT_EQ(bluecl_session_state_load(b.get(), state.data(), state.size()), BLUECL_OK) << bluecl_last_error();
  const std::vector<uint8_t> back = save(b.get());
  EXPECT_EQ(back, state);  // read back from the device unchanged
  EXPECT_EQ(greedy(b.get(), kContinue), greedy(a.get(), kContinue));
}

// Image tokens (embeddings) in the history: their KV rows and positions come back, marked -1.
TEST(SessionState, EmbeddingsInTheHistory) {
  for (const char* device : {"cpu", ""}) {
    if (!*device && !cl_device()) continue;
    SCOPED_TRACE(std::string("device '") + device + "'");
    ModelPtr m = load("tiny-a-q4_0", device);
    bluecl_model_info info;
    ASSERT_EQ(bluecl_model_get_info(m.get(), &info), BLUECL_OK);
    SessionPtr a = session(m.get(), BLUECL_KV_F16);
    const std::vector<int32_t> before = tokenize(m.get(), "Look:");
    const std::vector<float> image = random_floats(20 * info.n_embd, 7, -0.5f, 0.5f);
    const std::vector<int32_t> after = {10, 20, 30};
    ASSERT_EQ(bluecl_session_prefill(a.get(), before.data(), before.size()), BLUECL_OK);
    ASSERT_EQ(bluecl_session_prefill_embeddings(a.get(), image.data(), 20), BLUECL_OK) << bluecl_last_error();
    ASSERT_EQ(bluecl_session_prefill(a.get(), after.data(), after.size()), BLUECL_OK);
    const std::vector<uint8_t> state = save(a.get());
    const std::vector<int32_t> want = greedy(a.get(), kContinue);

    SessionPtr b = session(m.get(), BLUECL_KV_F16);
    ASSERT_EQ(bluecl_session_state_load(b.get(), state.data(), state.size()), BLUECL_OK)
        << bluecl_last_error();
    std::vector<int32_t> history = before;
    history.insert(history.end(), 20, -1);
    history.insert(history.end(), after.begin(), after.end());
    EXPECT_EQ(tokens_of(b.get()), history);
    EXPECT_EQ(greedy(b.get(), kContinue), want);
  }
}

// The status and the words the message must hold; the session keeps its tokens and continuation.
void expect_refused(bluecl_session* s, const std::vector<uint8_t>& state, bluecl_status want,
                    const std::string& words, const std::vector<int32_t>& held) {
  EXPECT_EQ(bluecl_session_state_load(s, state.data(), state.size()), want) << words;
  EXPECT_NE(std::string(bluecl_last_error()).find(words), std::string::npos) << bluecl_last_error();
  EXPECT_EQ(tokens_of(s), held);
}

TEST(SessionState, RefusesStatesThatDoNotFit) {
  ModelPtr m = load("tiny-a-q4_0", "cpu");
  SessionPtr a = session(m.get(), BLUECL_KV_F16);
  const std::vector<int32_t> prompt = tokenize(m.get(), kPrompt);
  ASSERT_EQ(bluecl_session_prefill(a.get(), prompt.data(), prompt.size()), BLUECL_OK);
  const std::vector<uint8_t> state = save(a.get());

  // A session that holds something of its own, which every refusal must leave in place.
  SessionPtr b = session(m.get(), BLUECL_KV_F16);
  const std::vector<int32_t> own = tokenize(m.get(), "Something else");
  ASSERT_EQ(bluecl_session_prefill(b.get(), own.data(), own.size()), BLUECL_OK);
  const std::vector<uint8_t> own_state = save(b.get());

  // Other models: the same shapes with other weight types, the same shapes and types with other
  // weights, another architecture.
  for (const char* other : {"tiny-a-q8_0", "tiny-a-f32", "tiny-c-bluelm-q4_0"}) {
    SCOPED_TRACE(other);
    ModelPtr o = load(other, "cpu");
    SessionPtr s = session(o.get(), BLUECL_KV_F16);
    expect_refused(s.get(), state, BLUECL_ERR_INVALID_ARGUMENT, "another model", {});
  }
  // Another KV type.
  SessionPtr f32 = session(m.get(), BLUECL_KV_F32);
  expect_refused(f32.get(), state, BLUECL_ERR_INVALID_ARGUMENT, "its KV cache is f16 and this session's f32",
                 {});
  // A context shorter than the state.
  SessionPtr small = session(m.get(), BLUECL_KV_F16, 8);
  expect_refused(small.get(), state, BLUECL_ERR_CONTEXT_FULL, "context of 8", {});

  // Truncated at every interesting length: inside the header, after it, mid-KV, one byte short.
  for (size_t n : {size_t{0}, size_t{7}, size_t{8}, size_t{55}, size_t{63}, size_t{64}, state.size() / 2,
                   state.size() - 8, state.size() - 1}) {
    SCOPED_TRACE(n);
    const std::vector<uint8_t> cut(state.begin(), state.begin() + static_cast<ptrdiff_t>(n));
    expect_refused(b.get(), cut, BLUECL_ERR_BAD_FILE, "session state", own);
  }
  std::vector<uint8_t> longer = state;
  longer.push_back(0);
  expect_refused(b.get(), longer, BLUECL_ERR_BAD_FILE, "corrupt", own);
  // One byte changed: the magic, the header's position count, a KV row, the checksum.
  for (size_t at : {size_t{0}, size_t{40}, state.size() - 100, state.size() - 1}) {
    SCOPED_TRACE(at);
    std::vector<uint8_t> bad = state;
    bad[at] ^= 0x5a;
    expect_refused(b.get(), bad, BLUECL_ERR_BAD_FILE,
                   at == 0 ? "not a bluecl session state" : "session state", own);
  }
  // A newer format.
  std::vector<uint8_t> newer = state;
  newer[8] = 2;
  expect_refused(b.get(), newer, BLUECL_ERR_UNSUPPORTED, "format 2", own);
  // Its own state still loads, and NULL arguments are refused.
  ASSERT_EQ(bluecl_session_state_load(b.get(), own_state.data(), own_state.size()), BLUECL_OK);
  EXPECT_EQ(bluecl_session_state_load(nullptr, state.data(), state.size()), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bluecl_session_state_load(b.get(), nullptr, 10), BLUECL_ERR_INVALID_ARGUMENT);
  size_t size = 0;
  std::vector<uint8_t> tiny(8);
  EXPECT_EQ(bluecl_session_state_save(a.get(), tiny.data(), tiny.size(), &size), BLUECL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(size, state.size());

  // Files: a missing one is an I/O error, a truncated one names the file.
  const std::string dir = temp_dir("bluecl-state-bad");
  EXPECT_EQ(bluecl_session_state_load_file(b.get(), (dir + "/missing.state").c_str()), BLUECL_ERR_IO);
  EXPECT_NE(std::string(bluecl_last_error()).find("missing.state"), std::string::npos);
  const std::string cut = dir + "/cut.state";
  std::ofstream(cut, std::ios::binary).write(reinterpret_cast<const char*>(state.data()), 100);
  EXPECT_EQ(bluecl_session_state_load_file(b.get(), cut.c_str()), BLUECL_ERR_BAD_FILE);
  EXPECT_NE(std::string(bluecl_last_error()).find("cut.state"), std::string::npos) << bluecl_last_error();
  EXPECT_EQ(bluecl_session_state_save_file(a.get(), (dir + "/no/such/dir/x.state").c_str()), BLUECL_ERR_IO);
  EXPECT_EQ(tokens_of(b.get()), own);
  std::filesystem::remove_all(dir);
}

// An empty session's state is small and loads as an empty session.
TEST(SessionState, EmptySession) {
  ModelPtr m = load("tiny-a-f32", "cpu");
  SessionPtr a = session(m.get(), BLUECL_KV_F32);
  const std::vector<uint8_t> state = save(a.get());
  EXPECT_LT(state.size(), 100u);
  SessionPtr b = session(m.get(), BLUECL_KV_F32);
  const int32_t t = 5;
  ASSERT_EQ(bluecl_session_prefill(b.get(), &t, 1), BLUECL_OK);
  ASSERT_EQ(bluecl_session_state_load(b.get(), state.data(), state.size()), BLUECL_OK) << bluecl_last_error();
  EXPECT_EQ(bluecl_session_n_past(b.get()), 0);
  EXPECT_TRUE(tokens_of(b.get()).empty());
}

}  // namespace
}  // namespace bluecl::testing
