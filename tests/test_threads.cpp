// Threads (issue 14 item 4): the C API's thread-safety promises (host/include/bluecl/bluecl.h) kept from
// several threads at once; tools/sanitize.sh tsan runs this under ThreadSanitizer.
//  - One model, several sessions, one per thread, generating greedily at the same time: each thread's
//    tokens and last logits are bit-identical to the same prompt run alone (the model's steps are
//    serialised by its lock, and nothing of one session leaks into another). Meanwhile other threads call
//    what takes only the model (tokenize, detokenize, get_info) and what takes no handle, and each
//    thread's bluecl_last_error() is its own.
//  - Image encodes started from several threads at once on one model, while other threads prefill and
//    generate text on it and the worker frees and reloads the tower's weights between images: every
//    image's tokens are bit-identical to its encode alone. One encoded image is read (wait, embeddings,
//    grid) and fed to sessions from several threads at once.
// Each case runs on the CPU and on the OpenCL device BLUECL_DEVICE names (one CTest entry per device of
// BLUECL_TEST_CL_DEVICES); results are compared within a device, never across devices.
#include "bluecl/bluecl.hpp"
#include "tests/cl_testing.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace bluecl::testing {
namespace {

constexpr int kThreads = 4;
constexpr int kPredict = 12;

const std::vector<std::string>& prompts() {
  static const std::vector<std::string> p = {"The quick brown fox", "Once upon a time there was",
                                             "One two three four five six", "Hello world, this is"};
  return p;
}

// The device of a case: the CPU, or the OpenCL device BLUECL_DEVICE names ("").
const char* device_of(bool cl) {
  return cl ? "" : "cpu";
}

#define REQUIRE_DEVICE(cl)       \
  do {                           \
    if (cl) BLUECL_REQUIRE_CL(); \
  } while (0)

ModelPtr load(bool cl, bool vision) {
  bluecl_model_params p = bluecl_model_default_params();
  p.device = device_of(cl);
  p.placement = "device";  // on OpenCL every op the device takes runs there
  p.n_threads = 2;
  ModelPtr m;
  EXPECT_EQ(bluecl_model_load(data_path("golden/tiny-a-f32.gguf").c_str(), &p, bluecl::out(m)), BLUECL_OK)
      << bluecl_last_error();
  if (m && vision) {
    EXPECT_EQ(bluecl_model_load_mmproj(m.get(), data_path("golden/tiny-v-f32.gguf").c_str()), BLUECL_OK)
        << bluecl_last_error();
  }
  return m;
}

SessionPtr session(bluecl_model* m) {
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_ctx = 256;
  sp.kv_type = BLUECL_KV_F32;
  SessionPtr s;
  if (bluecl_session_create(m, &sp, bluecl::out(s)) != BLUECL_OK) return nullptr;
  return s;
}

// What one generation produced: its status (and message), the tokens, the logits of the last step.
struct Outcome {
  bluecl_status status = BLUECL_ERR_INTERNAL;
  std::string error;
  std::vector<int32_t> tokens;
  std::vector<float> logits;
  bool operator==(const Outcome& o) const {
    return status == o.status && tokens == o.tokens && logits.size() == o.logits.size() &&
           std::memcmp(logits.data(), o.logits.data(), logits.size() * sizeof(float)) == 0;
  }
};

int collect(int32_t token, const char*, size_t, void* user) {
  static_cast<std::vector<int32_t>*>(user)->push_back(token);
  return 0;
}

// Greedy generation of kPredict tokens after `prompt` (and the images, one "<image>" marker each).
Outcome generate(bluecl_session* s, const std::string& prompt, std::vector<const bluecl_image*> images = {}) {
  Outcome r;
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = kPredict;
  gp.sampling.temperature = 0;
  gp.on_token = collect;
  gp.user = &r.tokens;
  gp.images = images.data();
  gp.n_images = images.size();
  r.status = bluecl_generate(s, prompt.c_str(), &gp, nullptr);
  if (r.status != BLUECL_OK) {
    r.error = bluecl_last_error();
    return r;
  }
  const float* logits = nullptr;
  size_t rows = 0, n_vocab = 0;
  r.status = bluecl_session_logits(s, &logits, &rows, &n_vocab);
  if (r.status == BLUECL_OK) r.logits.assign(logits, logits + rows * n_vocab);
  return r;
}

Outcome generate_fresh(bluecl_model* m, const std::string& prompt,
                       std::vector<const bluecl_image*> images = {}) {
  SessionPtr s = session(m);
  if (!s) return Outcome{.status = BLUECL_ERR_INTERNAL, .error = bluecl_last_error()};
  return generate(s.get(), prompt, std::move(images));
}

void expect_same(const Outcome& got, const Outcome& want, const std::string& what) {
  EXPECT_EQ(got.status, BLUECL_OK) << what << ": " << got.error;
  EXPECT_EQ(got.tokens, want.tokens) << what;
  EXPECT_TRUE(got == want) << what << ": the logits differ from the run alone";
}

// Starts every function on its own thread at once (they wait for each other at a start line) and joins.
void run_together(const std::vector<std::function<void()>>& fns) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (const auto& f : fns)
    threads.emplace_back([&ready, &fns, &f] {
      ready++;
      while (ready.load() < static_cast<int>(fns.size())) std::this_thread::yield();
      f();
    });
  for (std::thread& t : threads) t.join();
}

// The calls that take only the model or no handle at all, over and over until `stop`; what they return
// must not change while sessions run. Returns the number of failed checks.
int read_model_until(bluecl_model* m, const std::atomic<bool>& stop) {
  int bad = 0;
  const std::string text = prompts()[0];
  int32_t first[64];
  size_t n_first = 0;
  if (bluecl_tokenize(m, text.data(), text.size(), 1, 0, first, 64, &n_first) != BLUECL_OK) return 1;
  char first_text[256];
  size_t first_len = 0;
  if (bluecl_detokenize(m, first + 1, n_first - 1, first_text, sizeof first_text, &first_len) != BLUECL_OK)
    return 1;
  bluecl_model_info first_info;
  if (bluecl_model_get_info(m, &first_info) != BLUECL_OK) return 1;
  do {
    int32_t ids[64];
    size_t n = 0;
    bad += bluecl_tokenize(m, text.data(), text.size(), 1, 0, ids, 64, &n) != BLUECL_OK || n != n_first ||
           std::memcmp(ids, first, n * sizeof(int32_t)) != 0;
    char back[256];
    size_t len = 0;
    bad += bluecl_detokenize(m, ids + 1, n - 1, back, sizeof back, &len) != BLUECL_OK ||
           std::string_view(back, len) != std::string_view(first_text, first_len);
    bluecl_model_info info;
    bad += bluecl_model_get_info(m, &info) != BLUECL_OK || info.n_vocab != first_info.n_vocab ||
           std::strcmp(info.devices, first_info.devices) != 0;
    int32_t gm = 0, gn = 0, tokens = 0;
    bad += bluecl_image_grid(1080, 2400, nullptr, &gm, &gn, &tokens) != BLUECL_OK || gm * gn == 0;
    bad += std::strcmp(bluecl_status_name(BLUECL_ERR_CONTEXT_FULL), "context full") != 0;
  } while (!stop.load());
  return bad;
}

class Threads : public ::testing::TestWithParam<bool> {};

// Several sessions on one model, one per thread, at the same time; a second round reuses each thread's
// session after truncating it to nothing. Each result equals its prompt's run alone, bit for bit.
TEST_P(Threads, SessionsOnOneModel) {
  REQUIRE_DEVICE(GetParam());
  ModelPtr m = load(GetParam(), false);
  ASSERT_NE(m, nullptr);
  std::vector<Outcome> alone;
  for (const std::string& p : prompts()) alone.push_back(generate_fresh(m.get(), p));
  for (const Outcome& r : alone) ASSERT_EQ(r.status, BLUECL_OK) << r.error;

  std::vector<Outcome> first(kThreads), second(kThreads);
  std::atomic<bool> stop{false};
  std::atomic<int> bad_reads{0};
  std::vector<std::function<void()>> work;
  for (int i = 0; i < kThreads; ++i)
    work.push_back([&, i] {
      const std::string& p = prompts()[i % prompts().size()];
      SessionPtr s = session(m.get());
      if (!s) return;
      first[i] = generate(s.get(), p);
      if (bluecl_session_truncate(s.get(), 0) != BLUECL_OK) return;
      second[i] = generate(s.get(), p);
    });
  std::thread reader([&] { bad_reads += read_model_until(m.get(), stop); });
  run_together(work);
  stop = true;
  reader.join();
  for (int i = 0; i < kThreads; ++i) {
    const Outcome& want = alone[i % prompts().size()];
    expect_same(first[i], want, "thread " + std::to_string(i));
    expect_same(second[i], want, "thread " + std::to_string(i) + " after truncate");
  }
  EXPECT_EQ(bad_reads.load(), 0) << "a model-only call failed or changed its answer while sessions ran";
}

// bluecl_last_error() is per thread: each thread's failure keeps its own message while the others fail
// differently at the same time.
TEST_P(Threads, LastErrorIsPerThread) {
  REQUIRE_DEVICE(GetParam());
  ModelPtr m = load(GetParam(), false);
  ASSERT_NE(m, nullptr);
  std::vector<SessionPtr> sessions;
  for (int i = 0; i < kThreads; ++i) sessions.push_back(session(m.get()));
  std::atomic<int> wrong{0};
  std::vector<std::function<void()>> work;
  for (int i = 0; i < kThreads; ++i)
    work.push_back([&, i] {
      const std::string id = std::to_string(5000 + i);  // past the 2048-token vocabulary
      for (int k = 0; k < 50; ++k) {
        const int32_t bad = 5000 + i;
        if (bluecl_session_prefill(sessions[i].get(), &bad, 1) != BLUECL_ERR_INVALID_ARGUMENT) wrong++;
        std::this_thread::yield();
        if (std::string(bluecl_last_error()).find(id) == std::string::npos) wrong++;
      }
    });
  run_together(work);
  EXPECT_EQ(wrong.load(), 0);
}

struct Picture {
  int w, h;
  std::vector<uint8_t> rgb;
};

const std::vector<Picture>& pictures() {
  static const std::vector<Picture> p = [] {
    std::vector<Picture> v;
    const int sizes[][2] = {{98, 98}, {196, 98}, {150, 260}, {300, 120}};
    for (int k = 0; k < 4; ++k)
      v.push_back({sizes[k][0], sizes[k][1], test_pattern(sizes[k][0], sizes[k][1], k)});
    return v;
  }();
  return p;
}

std::vector<float> tokens_of(const bluecl_image* img, bluecl_status* st) {
  const float* e = nullptr;
  size_t n = 0, d = 0;
  *st = bluecl_image_embeddings(img, &e, &n, &d);
  return *st == BLUECL_OK ? std::vector<float>(e, e + n * d) : std::vector<float>{};
}

ImagePtr encode(bluecl_model* m, int k) {
  const Picture& p = pictures()[k];
  ImagePtr img;
  if (bluecl_image_encode_rgb(m, p.rgb.data(), p.w, p.h, bluecl::out(img)) != BLUECL_OK) return nullptr;
  return img;
}

// Encodes started from several threads at once (each thread its own order of the pictures) while two
// threads generate text on the same model, with the tower's weights freed whenever the queue runs dry:
// every image's tokens equal its encode alone, bit for bit, and so does the text.
TEST_P(Threads, ImageEncodesWhileTextRuns) {
  REQUIRE_DEVICE(GetParam());
  ModelPtr m = load(GetParam(), true);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(bluecl_model_set_vision_release(m.get(), 1), BLUECL_OK);
  const size_t n_pic = pictures().size();
  std::vector<std::vector<float>> alone;
  for (size_t k = 0; k < n_pic; ++k) {
    ImagePtr img = encode(m.get(), static_cast<int>(k));
    ASSERT_NE(img, nullptr) << bluecl_last_error();
    bluecl_status st;
    alone.push_back(tokens_of(img.get(), &st));
    ASSERT_EQ(st, BLUECL_OK) << bluecl_last_error();
    ASSERT_FALSE(alone.back().empty());
  }
  std::vector<Outcome> text_alone;
  for (int i = 0; i < 2; ++i) text_alone.push_back(generate_fresh(m.get(), prompts()[i]));

  // got[t][k]: thread t's tokens of picture k; status per image.
  std::vector<std::vector<std::vector<float>>> got(kThreads, std::vector<std::vector<float>>(n_pic));
  std::vector<std::vector<bluecl_status>> status(kThreads,
                                                 std::vector<bluecl_status>(n_pic, BLUECL_ERR_INTERNAL));
  std::vector<Outcome> text(2);
  std::vector<std::function<void()>> work;
  for (int t = 0; t < kThreads; ++t)
    work.push_back([&, t] {
      std::vector<ImagePtr> imgs(n_pic);
      for (size_t j = 0; j < n_pic; ++j) {  // all started before any is waited for
        const size_t k = (j + t) % n_pic;
        imgs[k] = encode(m.get(), static_cast<int>(k));
      }
      for (size_t k = 0; k < n_pic; ++k)
        if (imgs[k]) got[t][k] = tokens_of(imgs[k].get(), &status[t][k]);
    });
  for (int i = 0; i < 2; ++i) work.push_back([&, i] { text[i] = generate_fresh(m.get(), prompts()[i]); });
  run_together(work);
  for (int t = 0; t < kThreads; ++t)
    for (size_t k = 0; k < n_pic; ++k) {
      EXPECT_EQ(status[t][k], BLUECL_OK) << "thread " << t << ", picture " << k;
      EXPECT_TRUE(got[t][k] == alone[k])
          << "thread " << t << ", picture " << k << ": tokens differ from the encode alone";
    }
  for (int i = 0; i < 2; ++i) expect_same(text[i], text_alone[i], "text thread " + std::to_string(i));
  EXPECT_EQ(bluecl_model_wait_vision(m.get()), BLUECL_OK);
}

// One encoded image shared by several threads: each waits for it, reads its tokens and grid, and feeds it
// to a session of its own with a question; every answer equals the one given alone.
TEST_P(Threads, OneImageReadBySeveralThreads) {
  REQUIRE_DEVICE(GetParam());
  ModelPtr m = load(GetParam(), true);
  ASSERT_NE(m, nullptr);
  const std::string question = "<image>What is in the picture?";
  ImagePtr img = encode(m.get(), 1);
  ASSERT_NE(img, nullptr) << bluecl_last_error();
  const Outcome alone = generate_fresh(m.get(), question, {img.get()});
  ASSERT_EQ(alone.status, BLUECL_OK) << alone.error;
  bluecl_status st;
  const std::vector<float> want = tokens_of(img.get(), &st);
  ASSERT_EQ(st, BLUECL_OK);

  ImagePtr shared = encode(m.get(), 1);  // a fresh handle, still encoding when the threads start
  ASSERT_NE(shared, nullptr) << bluecl_last_error();
  std::vector<Outcome> runs(kThreads);
  std::atomic<int> wrong{0};
  std::vector<std::function<void()>> work;
  for (int t = 0; t < kThreads; ++t)
    work.push_back([&, t] {
      wrong += bluecl_image_wait(shared.get()) != BLUECL_OK;
      bluecl_status s;
      wrong += tokens_of(shared.get(), &s) != want || s != BLUECL_OK;
      int32_t gm = 0, gn = 0;
      wrong += bluecl_image_grid_of(shared.get(), &gm, &gn) != BLUECL_OK || gm * gn < 1;
      runs[t] = generate_fresh(m.get(), question, {shared.get()});
    });
  run_together(work);
  EXPECT_EQ(wrong.load(), 0);
  for (int t = 0; t < kThreads; ++t) expect_same(runs[t], alone, "thread " + std::to_string(t));
}

INSTANTIATE_TEST_SUITE_P(Devices, Threads, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "OpenCl" : "Cpu"; });

}  // namespace
}  // namespace bluecl::testing
