// Injected OpenCL faults (backend/cl/cl_calls.h, issue 14): an enqueue, map, read, write or allocation
// that fails at the Nth call during prefill, decode or an image encode. Each ends as designed: the C API
// returns an error naming the injected failure, the session is where it was before the failed step, and
// the next call computes exactly what a run without the fault computes from that point (the same tokens,
// the same logits and image embeddings, bit for bit, on the same device). A fault that the device's memory
// fallback absorbs (an allocation while a graph is built) ends in the same tokens instead of an error.
//
// For each kind and phase the test first counts the calls the phase makes (a fault armed far ahead, and
// what is left of its count afterwards), then injects at the first, a middle and the last of them.
#include "backend/cl/cl_calls.h"
#include "bluecl/bluecl.hpp"
#include "graph/base/error.h"
#include "graph/graph.h"
#include "host/runtime/devices.h"
#include "tests/cl_testing.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace bluecl::testing {
namespace {

#define ASSERT_OK(call) ASSERT_EQ((call), BLUECL_OK) << bluecl_last_error()

constexpr int64_t kFar = 1000000000;  // a count no phase reaches
constexpr int kPredict = 6;
const char* const kKinds[] = {"enqueue", "map", "read", "write", "alloc"};

ModelPtr load(bool vision) {
  bluecl_model_params p = bluecl_model_default_params();
  p.n_threads = 2;
  p.placement = "device";  // every op on the OpenCL device (BLUECL_DEVICE picks it), so faults hit them
  p.exact_cpu = 1;
  bluecl_model* m = nullptr;
  EXPECT_EQ(bluecl_model_load(data_path("golden/tiny-a-f32.gguf").c_str(), &p, &m), BLUECL_OK)
      << bluecl_last_error();
  if (m && vision) {
    EXPECT_EQ(bluecl_model_load_mmproj(m, data_path("golden/tiny-v-f32.gguf").c_str()), BLUECL_OK)
        << bluecl_last_error();
    EXPECT_EQ(bluecl_model_set_vision_batch(m, 2), BLUECL_OK);  // 3 tiles: two runs
  }
  return ModelPtr(m);
}

SessionPtr session(bluecl_model* m) {
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_ctx = 128;
  sp.n_chunk = 8;  // the prompt below is 3 chunks: 8, 8, 4
  sp.kv_type = BLUECL_KV_F32;
  bluecl_session* s = nullptr;
  EXPECT_EQ(bluecl_session_create(m, &sp, &s), BLUECL_OK) << bluecl_last_error();
  return SessionPtr(s);
}

const std::vector<int32_t>& prompt() {
  // "Hello world, this is a test of the engine under" in the tiny vocabulary: greedy generation after it
  // runs the whole budget (no end-of-generation token).
  static const std::vector<int32_t> p = {1,    379, 295, 417, 281, 1613, 47,   445, 338,  263,
                                         1243, 310, 278, 427, 106, 457,  1090, 285, 1292, 118};
  return p;
}

std::vector<float> logits(bluecl_session* s) {
  const float* l = nullptr;
  size_t rows = 0, n_vocab = 0;
  EXPECT_EQ(bluecl_session_logits(s, &l, &rows, &n_vocab), BLUECL_OK) << bluecl_last_error();
  return l ? std::vector<float>(l, l + rows * n_vocab) : std::vector<float>{};
}

int collect(int32_t token, const char*, size_t, void* user) {
  if (token >= 0) static_cast<std::vector<int32_t>*>(user)->push_back(token);
  return 0;
}

// Greedy generation from what the session holds; the tokens passed to on_token go to *out.
bluecl_status generate(bluecl_session* s, int n_predict, std::vector<int32_t>* out) {
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = n_predict;
  gp.sampling.temperature = 0;
  gp.on_token = collect;
  gp.user = out;
  return bluecl_generate(s, "", &gp, nullptr);
}

// Runs f with a fault of `kind` armed far ahead: the calls of that kind f makes.
template <typename F>
int64_t count_calls(const char* kind, F&& f) {
  cl_fault_set(std::string(kind) + ":" + std::to_string(kFar));
  f();
  const int64_t n = kFar - cl_fault_remaining();
  cl_fault_set("");
  return n;
}

// The first, a middle and the last call of a phase; printed, so the log shows what each phase makes.
std::vector<int64_t> injection_points(const char* phase, const char* kind, int64_t calls) {
  std::printf("%s: %lld %s calls\n", phase, static_cast<long long>(calls), kind);
  if (calls == 0) return {};
  std::set<int64_t> at = {1, (calls + 1) / 2, calls};
  return {at.begin(), at.end()};
}

// The failure as the C API reports it: an error status and a message naming the injected call.
void expect_injected_error(bluecl_status st, const char* kind, int64_t n) {
  EXPECT_NE(st, BLUECL_OK) << kind << ":" << n << " did not fail";
  if (st == BLUECL_OK) return;
  EXPECT_TRUE(st == BLUECL_ERR_DEVICE || st == BLUECL_ERR_OUT_OF_MEMORY) << bluecl_status_name(st);
  EXPECT_NE(std::string(bluecl_last_error()).find("injected by BLUECL_FAULT"), std::string::npos)
      << bluecl_last_error();
}

class Fault : public ::testing::Test {
 protected:
  void SetUp() override { BLUECL_REQUIRE_CL(); }
  void TearDown() override { cl_fault_set(""); }
};

// What an uninjected run computes: the logits after the prompt and the greedy tokens after them.
struct Reference {
  std::vector<float> logits;
  std::vector<int32_t> tokens;
};
const Reference& reference() {
  static const Reference r = [] {
    Reference out;
    ModelPtr m = load(false);
    SessionPtr s = session(m.get());
    EXPECT_EQ(bluecl_session_prefill(s.get(), prompt().data(), prompt().size()), BLUECL_OK);
    out.logits = logits(s.get());
    EXPECT_EQ(generate(s.get(), kPredict, &out.tokens), BLUECL_OK) << bluecl_last_error();
    EXPECT_EQ(out.tokens.size(), static_cast<size_t>(kPredict));
    return out;
  }();
  return r;
}

TEST_F(Fault, Prefill) {
  const Reference& ref = reference();
  for (const char* kind : kKinds) {
    SCOPED_TRACE(kind);
    // A fresh model per kind: an allocation fault may move work to the CPU for the model's lifetime.
    ModelPtr m = load(false);
    SessionPtr probe = session(m.get());
    const int64_t calls = count_calls(kind, [&] {
      EXPECT_EQ(bluecl_session_prefill(probe.get(), prompt().data(), prompt().size()), BLUECL_OK);
    });
    probe.reset();
    // No map or alloc calls here, as a rule: the weights and graphs are ready.
    for (int64_t n : injection_points("prefill", kind, calls)) {
      SCOPED_TRACE(n);
      SessionPtr s = session(m.get());
      cl_fault_set(std::string(kind) + ":" + std::to_string(n));
      const bluecl_status st = bluecl_session_prefill(s.get(), prompt().data(), prompt().size());
      EXPECT_FALSE(cl_fault_armed());
      if (std::string(kind) == "alloc" && st == BLUECL_OK) {
        // The device "ran out of memory" building the last chunk's graph: the memory fallback moved the
        // KV cache and its ops to the CPU for this model. The same tokens, logits close to the device's.
        EXPECT_LE(nmse(logits(s.get()).data(), ref.logits.data(), static_cast<int64_t>(ref.logits.size())),
                  1e-9);
        std::vector<int32_t> tokens;
        ASSERT_OK(generate(s.get(), kPredict, &tokens));
        EXPECT_EQ(tokens, ref.tokens);
        break;
      }
      expect_injected_error(st, kind, n);
      // Rolled back to the empty session: the same prefill again gives the reference's logits.
      EXPECT_EQ(bluecl_session_n_past(s.get()), 0);
      ASSERT_OK(bluecl_session_prefill(s.get(), prompt().data(), prompt().size()));
      EXPECT_EQ(logits(s.get()), ref.logits);
      std::vector<int32_t> tokens;
      ASSERT_OK(generate(s.get(), kPredict, &tokens));
      EXPECT_EQ(tokens, ref.tokens);
    }
  }
}

// Faults of `kind` while generating after the prompt (each decode step: a one-token graph).
void check_decode(const char* phase, const char* kind) {
  const Reference& ref = reference();
  ModelPtr m = load(false);
  SessionPtr probe = session(m.get());
  ASSERT_OK(bluecl_session_prefill(probe.get(), prompt().data(), prompt().size()));
  std::vector<int32_t> ignored;
  const int64_t calls = count_calls(kind, [&] { EXPECT_EQ(generate(probe.get(), kPredict, &ignored), 0); });
  probe.reset();
  for (int64_t n : injection_points(phase, kind, calls)) {
    SCOPED_TRACE(n);
    SessionPtr s = session(m.get());
    ASSERT_OK(bluecl_session_prefill(s.get(), prompt().data(), prompt().size()));
    std::vector<int32_t> seen;
    cl_fault_set(std::string(kind) + ":" + std::to_string(n));
    const bluecl_status st = generate(s.get(), kPredict, &seen);
    EXPECT_FALSE(cl_fault_armed());
    expect_injected_error(st, kind, n);
    // The tokens streamed are the reference's; the last one's decode failed, so the session holds the
    // prompt and the ones before it (and their logits), and generating again starts from that token.
    ASSERT_GE(seen.size(), 1u);
    ASSERT_LE(seen.size(), ref.tokens.size());
    EXPECT_EQ(seen, std::vector<int32_t>(ref.tokens.begin(), ref.tokens.begin() + seen.size()));
    const size_t kept = seen.size() - 1;
    EXPECT_EQ(bluecl_session_n_past(s.get()), static_cast<int32_t>(prompt().size() + kept));
    std::vector<int32_t> rest;
    ASSERT_OK(generate(s.get(), kPredict - static_cast<int>(kept), &rest));
    std::vector<int32_t> all(seen.begin(), seen.begin() + kept);
    all.insert(all.end(), rest.begin(), rest.end());
    EXPECT_EQ(all, ref.tokens);
    // And after a truncate to the prompt less its last token, that token and generation give the
    // reference again.
    const int32_t last = static_cast<int32_t>(prompt().size()) - 1;
    ASSERT_OK(bluecl_session_truncate(s.get(), last));
    ASSERT_OK(bluecl_session_prefill(s.get(), &prompt()[last], 1));
    std::vector<int32_t> again;
    ASSERT_OK(generate(s.get(), kPredict, &again));
    EXPECT_EQ(again, ref.tokens);
  }
}

TEST_F(Fault, Decode) {
  for (const char* kind : kKinds) {
    SCOPED_TRACE(kind);
    check_decode("decode", kind);
  }
}

// The op profile waits for every op (clFinish after each): a finish that fails ends like the others.
TEST_F(Fault, DecodeProfiled) {
  reference();  // computed unprofiled
  bluecl_profile_start();
  for (const char* kind : {"finish", "enqueue"}) {
    SCOPED_TRACE(kind);
    check_decode("decode (profiled)", kind);
  }
  EXPECT_NE(bluecl_profile_table(), nullptr);  // stops the profile
}

const std::vector<float>& tiles() {
  static const std::vector<float> t = read_f32(data_path("golden/tiny-v-f32.tiles.f32"));
  return t;
}

// Encodes the golden tiles and waits for the worker (and the release policy after it). On failure
// bluecl_last_error() holds the encode's error.
bluecl_status encode(bluecl_model* m, std::vector<float>* out) {
  bluecl_image* raw = nullptr;
  bluecl_status st = bluecl_image_encode_tiles(m, tiles().data(), 3, &raw);
  if (st != BLUECL_OK) return st;
  ImagePtr img(raw);
  st = bluecl_image_wait(img.get());
  if (st == BLUECL_OK) {
    const float* e = nullptr;
    size_t n = 0, d = 0;
    st = bluecl_image_embeddings(img.get(), &e, &n, &d);
    if (st == BLUECL_OK) out->assign(e, e + n * d);
  }
  EXPECT_EQ(bluecl_model_wait_vision(m), BLUECL_OK);  // succeeds, so the last error stays the encode's
  return st;
}

TEST_F(Fault, ImageEncode) {
  std::vector<float> ref;
  {
    ModelPtr m = load(true);
    ASSERT_OK(encode(m.get(), &ref));
  }
  for (const char* kind : kKinds) {
    SCOPED_TRACE(kind);
    ModelPtr m = load(true);
    std::vector<float> e;
    // The release policy frees the tower's weights after each encode, so each one uploads them again
    // (alloc, map or write) and builds its graphs.
    ASSERT_OK(encode(m.get(), &e));
    const int64_t calls = count_calls(kind, [&] { EXPECT_EQ(encode(m.get(), &e), BLUECL_OK); });
    // (No map calls on a device with memory of its own.)
    for (int64_t n : injection_points("image encode", kind, calls)) {
      SCOPED_TRACE(n);
      std::vector<float> got;
      cl_fault_set(std::string(kind) + ":" + std::to_string(n));
      const bluecl_status st = encode(m.get(), &got);
      EXPECT_FALSE(cl_fault_armed());
      if (std::string(kind) == "alloc" && st == BLUECL_OK) {
        // The device "ran out of memory" while a graph was built: the memory fallback ran the affected
        // ops on the CPU. The embeddings are the CPU's, close to the device's; later encodes keep it.
        ASSERT_EQ(got.size(), ref.size());
        EXPECT_LE(nmse(got.data(), ref.data(), static_cast<int64_t>(ref.size())), 1e-9);
        break;
      }
      expect_injected_error(st, kind, n);
      ASSERT_OK(encode(m.get(), &got));
      EXPECT_EQ(got, ref);
    }
  }
}

// A prompt of several pieces (text, an image's embeddings, text) through bluecl_generate: a fault in any
// piece takes the session back to before the prompt, and the same call then generates the reference.
TEST_F(Fault, MultimodalPrompt) {
  ModelPtr m = load(true);
  bluecl_image* raw = nullptr;
  ASSERT_OK(bluecl_image_encode_tiles(m.get(), tiles().data(), 3, &raw));
  ImagePtr img(raw);
  ASSERT_OK(bluecl_image_wait(img.get()));
  const bluecl_image* images[] = {img.get()};
  auto run = [&](bluecl_session* s, int n_predict, std::vector<int32_t>* out) {
    bluecl_generate_params gp = bluecl_generate_default_params();
    gp.n_predict = n_predict;
    gp.sampling.temperature = 0;
    gp.on_token = collect;
    gp.user = out;
    gp.images = images;
    gp.n_images = 1;
    return bluecl_generate(s, "<image>Hello world, this is a test of the engine", &gp, nullptr);
  };
  std::vector<int32_t> ref;
  {
    SessionPtr s = session(m.get());
    ASSERT_OK(run(s.get(), kPredict, &ref));
  }
  for (const char* kind : {"enqueue", "read", "write"}) {
    SCOPED_TRACE(kind);
    std::vector<int32_t> ignored;
    SessionPtr probe = session(m.get());
    const int64_t calls = count_calls(kind, [&] { EXPECT_EQ(run(probe.get(), 0, &ignored), BLUECL_OK); });
    probe.reset();
    for (int64_t n : injection_points("multimodal prompt", kind, calls)) {
      SCOPED_TRACE(n);
      SessionPtr s = session(m.get());
      std::vector<int32_t> tokens;
      cl_fault_set(std::string(kind) + ":" + std::to_string(n));
      expect_injected_error(run(s.get(), kPredict, &tokens), kind, n);
      EXPECT_TRUE(tokens.empty());
      EXPECT_EQ(bluecl_session_n_past(s.get()), 0);
      ASSERT_OK(run(s.get(), kPredict, &tokens));
      EXPECT_EQ(tokens, ref);
    }
  }
}

// The executor alone: a run, input or read that fails throws the OpenCL error (after the device has
// finished what was enqueued before it), and the next run computes what a run without it computes.
TEST_F(Fault, ExecutorRunsAgainAfterAFailure) {
  Devices d({.device = "", .n_threads = 2, .placement = "device", .cpu_precision = CpuPrecision::Reference});
  ASSERT_NE(d.cl(), nullptr);
  Graph g;
  const Tensor x = g.input("x", DType::F32, {7, 4, 16});
  const Tensor out =
      g.scale(g.rope(g.scale(x, 0.5f, "pre"), {RopeMode::Adjacent, 16, 10000.0f}, "roped"), 2.0f, "post");
  g.mark_output(out);
  Devices::Prepared p = d.prepare(g, {});
  const std::vector<float> in = random_floats(7 * 4 * 16, 3);
  auto run = [&] {
    p.ex->set_input(x, in.data(), in.size() * sizeof(float));
    p.ex->run(Step{5});
    std::vector<float> y(in.size());
    p.ex->read(out, y.data(), y.size() * sizeof(float));
    return y;
  };
  const std::vector<float> ref = run();
  for (const char* spec : {"write:1", "enqueue:1", "enqueue:2", "enqueue:3", "read:1"}) {
    SCOPED_TRACE(spec);
    cl_fault_set(spec);
    try {
      run();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("injected by BLUECL_FAULT"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(cl_fault_armed());
    EXPECT_EQ(run(), ref);
  }
}

// A bad spec is a clear error naming what was wrong; a good one arms, "off" and "" disarm.
TEST(FaultSpec, BadValuesAreErrors) {
  for (const char* bad : {"launch:3", "enqueue", "enqueue:", ":3", "enqueue:0", "enqueue:x", "read:-1",
                          "read:1000000001", "read:2:3", "ENQUEUE:1"}) {
    SCOPED_TRACE(bad);
    try {
      cl_fault_set(bad);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("cl_fault_set"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(cl_fault_armed());
  }
  cl_fault_set("map:7");
  EXPECT_TRUE(cl_fault_armed());
  EXPECT_EQ(cl_fault_remaining(), 7);
  cl_fault_set("off");
  EXPECT_FALSE(cl_fault_armed());
  EXPECT_EQ(cl_fault_remaining(), 0);
}

// The CLI's exit code and output with BLUECL_FAULT set (the device from BLUECL_DEVICE, every op on it).
struct CliRun {
  int rc = -1;
  std::string out;
};
CliRun run_cli(const std::string& fault) {
  const std::string cmd = "BLUECL_FAULT='" + fault +
                          "' BLUECL_PLACEMENT=device '" BLUECL_CLI_PATH "' run -m '" +
                          data_path("golden/tiny-a-f32.gguf") + "' -p hi -n 2 2>&1";
  CliRun r;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) r.out.append(buf, n);
  const int st = pclose(f);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// From the environment, as other BLUECL_* variables: a bad value stops the command with exit code 2 and
// a message naming the variable and the value; a good one makes that call fail with a clear error.
TEST_F(Fault, FromTheEnvironment) {
  for (const char* bad : {"launch:3", "enqueue", "enqueue:0", "read:x"}) {
    const CliRun r = run_cli(bad);
    EXPECT_EQ(r.rc, 2) << bad << "\n" << r.out;
    EXPECT_NE(r.out.find("BLUECL_FAULT"), std::string::npos) << r.out;
  }
  const CliRun r = run_cli("read:1");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("clEnqueueReadBuffer (a fault injected by BLUECL_FAULT) failed: CL_OUT_OF_RESOURCES"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(run_cli("off").rc, 0);
}

}  // namespace
}  // namespace bluecl::testing
