// Decoupled image encoding (spec section 2(f)): encoding starts at once on the model's worker and the
// caller goes on — prefilling text on the language model while the tower is still busy; what needs the
// image tokens waits; the tower's weights are freed when no image is left; an encoded image's KV prefix
// serves several turns of a conversation.
#include "bluecl/bluecl.hpp"
#include "graph/graph.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace bluecl::testing {
namespace {

#define ASSERT_OK(call) ASSERT_EQ((call), BLUECL_OK) << bluecl_last_error()

// A gate the test opens: the progress callback (on the worker) blocks on it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};
};

int hold(const char* stage, float, void* user) {
  auto* g = static_cast<Gate*>(user);
  if (std::string(stage) != "encoding image") return 0;
  g->entered++;
  std::unique_lock lock(g->mu);
  g->cv.wait(lock, [&] { return g->open; });
  return 0;
}

ModelPtr load(Gate* gate) {
  bluecl_model_params p = bluecl_model_default_params();
  p.device = "cpu";
  p.n_threads = 2;
  if (gate) p.progress = hold, p.progress_user = gate;
  bluecl_model* m = nullptr;
  EXPECT_EQ(bluecl_model_load(data_path("golden/tiny-a-f32.gguf").c_str(), &p, &m), BLUECL_OK)
      << bluecl_last_error();
  EXPECT_EQ(bluecl_model_load_mmproj(m, data_path("golden/tiny-v-f32.gguf").c_str()), BLUECL_OK)
      << bluecl_last_error();
  return ModelPtr(m);
}

SessionPtr session(bluecl_model* m) {
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_ctx = 512;
  sp.kv_type = BLUECL_KV_F32;
  bluecl_session* s = nullptr;
  EXPECT_EQ(bluecl_session_create(m, &sp, &s), BLUECL_OK) << bluecl_last_error();
  return SessionPtr(s);
}

const std::vector<float>& tiles() {
  static const std::vector<float> t = read_f32(data_path("golden/tiny-v-f32.tiles.f32"));
  return t;
}

TEST(Decoupled, TextPrefillsWhileTheImageEncodes) {
  Gate gate;
  ModelPtr m = load(&gate);
  SessionPtr s = session(m.get());
  bluecl_image* raw = nullptr;
  ASSERT_OK(bluecl_image_encode_tiles(m.get(), tiles().data(), 3, &raw));  // returns at once
  ImagePtr img(raw);
  while (gate.entered == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the worker is in it
  // The tower is held mid-encode; the language model still takes the text before the image.
  const int32_t text[] = {1, 518, 127, 75, 398};
  ASSERT_OK(bluecl_session_prefill(s.get(), text, 5));
  EXPECT_EQ(bluecl_session_n_past(s.get()), 5);
  {
    std::lock_guard lock(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();
  ASSERT_OK(bluecl_session_prefill_image(s.get(), img.get()));  // waits for the tokens
  EXPECT_EQ(bluecl_session_n_past(s.get()), 5 + 48);
}

TEST(Decoupled, WeightsAreFreedWhenNoImageIsLeft) {
  ModelPtr m = load(nullptr);
  bluecl_vision_info vi;
  ASSERT_OK(bluecl_model_get_vision_info(m.get(), &vi));
  EXPECT_EQ(vi.weights_resident, 1);
  for (int keep : {0, 1}) {
    ASSERT_OK(bluecl_model_set_vision_release(m.get(), keep ? 0 : 1));
    bluecl_image* raw = nullptr;
    ASSERT_OK(bluecl_image_encode_tiles(m.get(), tiles().data(), 3, &raw));
    ImagePtr img(raw);
    ASSERT_OK(bluecl_model_wait_vision(m.get()));
    ASSERT_OK(bluecl_model_get_vision_info(m.get(), &vi));
    EXPECT_EQ(vi.weights_resident, keep) << (keep ? "kept" : "released");
    // Released or not, the tokens are the same as the golden ones.
    const float* e = nullptr;
    size_t n = 0, d = 0;
    ASSERT_OK(bluecl_image_embeddings(img.get(), &e, &n, &d));
    const std::vector<float> ref = read_f32(data_path("golden/tiny-v-f32.tokens.f32"));
    ASSERT_EQ(n * d, ref.size());
    EXPECT_LE(nmse(e, ref.data(), static_cast<int64_t>(ref.size())), 1e-8);
  }
}

// Two turns on one session reuse the image's KV prefix: the second turn prefills only its own text (no
// image tokens again), appended after everything of the first turn.
TEST(Decoupled, ImagePrefixServesTheNextTurn) {
  ModelPtr m = load(nullptr);
  bluecl_image* raw = nullptr;
  ASSERT_OK(bluecl_image_encode_tiles(m.get(), tiles().data(), 3, &raw));
  ImagePtr img(raw);
  SessionPtr s = session(m.get());
  bluecl_generate_params gp = bluecl_generate_default_params();
  gp.n_predict = 4;
  gp.sampling.temperature = 0;
  gp.chat = 1;
  const bluecl_image* imgs[] = {img.get()};
  gp.images = imgs;
  gp.n_images = 1;
  bluecl_generate_stats st1, st2;
  ASSERT_OK(bluecl_generate(s.get(), "What is in the image?", &gp, &st1));
  const int32_t after_turn1 = bluecl_session_n_past(s.get());
  gp.images = nullptr;
  gp.n_images = 0;
  gp.n_predict = 1;
  ASSERT_OK(bluecl_generate(s.get(), "And the colour?", &gp, &st2));
  EXPECT_GT(st1.n_prompt, 48);  // the first turn's prompt holds the 48 image tokens
  EXPECT_LT(st2.n_prompt, 48);  // the second only its own text
  EXPECT_EQ(after_turn1 + st2.n_prompt + 1, bluecl_session_n_past(s.get()));
}

}  // namespace
}  // namespace bluecl::testing
