// The C++ engine (host/session/engine.h) on its own, without the C API, on the CPU with the golden tiny
// models (tiny-a-f32 and its vision tower tiny-v-f32):
//  - loading: the language model with its devices, vocab-only (no devices, no sessions, no tower), a
//    vision-only engine, and a tower that fails to load leaving the previous one in place;
//  - async encoding with a tower (tiles and a decoded image; the tokens equal the golden ones and the
//    synchronous calls' results) and without one (refused at once, before the worker);
//  - errors of an encode (a partial tile, a cancelling progress callback) reach the job, and the engine
//    goes on encoding afterwards;
//  - the language model prefills while the worker is held in the middle of an encode;
//  - the release policy: the tower's weights go when the queue runs empty, stay with the policy off, and
//    come back for the next encode with the same tokens.
#include "host/session/engine.h"

#include "graph/base/error.h"
#include "graph/graph.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bluecl::testing {
namespace {

const std::string kLlm = data_path("golden/tiny-a-f32.gguf");
const std::string kVit = data_path("golden/tiny-v-f32.gguf");

EngineOptions cpu_options() {
  EngineOptions o;
  o.devices.device = "cpu";
  o.devices.n_threads = 2;
  o.devices.cpu_precision = CpuPrecision::Reference;  // compared with the float64 reference tokens
  return o;
}

const std::vector<float>& golden_tiles() {  // 3 tiles
  static const std::vector<float> t = read_f32(data_path("golden/tiny-v-f32.tiles.f32"));
  return t;
}

const std::vector<float>& golden_tokens() {
  static const std::vector<float> t = read_f32(data_path("golden/tiny-v-f32.tokens.f32"));
  return t;
}

// The status an Error thrown by f carries (Ok when f does not throw).
template <typename F>
Status status_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.status();
  }
  return Status::Ok;
}

void expect_golden(const ImageEmbeddings& e) {
  EXPECT_EQ(e.n_tiles, 3);
  EXPECT_EQ(e.tokens_per_tile, 16);
  EXPECT_EQ(e.n_embd, 256);
  ASSERT_EQ(e.tokens.size(), golden_tokens().size());
  EXPECT_LE(nmse(e.tokens.data(), golden_tokens().data(), static_cast<int64_t>(e.tokens.size())), 1e-8);
}

Image test_image(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(size_t(w) * size_t(h) * 3);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = static_cast<uint8_t>((i * 37 + i / 97) & 0xff);
  return img;
}

TEST(Engine, LoadsTheLanguageModel) {
  std::unique_ptr<Engine> e = Engine::load(kLlm, cpu_options());
  ASSERT_TRUE(e->has_llm());
  EXPECT_EQ(e->llm().hparams().n_embd, 256);
  ASSERT_NE(e->devices(), nullptr);
  EXPECT_FALSE(e->has_vision());
  EXPECT_EQ(status_of([&] { e->vision_info(); }), Status::InvalidArgument);

  SessionParams sp;
  sp.n_ctx = 64;
  sp.kv_type = DType::F32;
  std::unique_ptr<EngineSession> s = e->create_session(sp);
  const int32_t text[] = {1, 518, 127, 75, 398};
  s->prefill(text);
  EXPECT_EQ(s->n_past(), 5);
  EXPECT_EQ(s->logits().size(), static_cast<size_t>(s->n_vocab()));
  s->truncate(2);
  EXPECT_EQ(s->n_past(), 2);
}

TEST(Engine, VocabOnlyHasNoDevices) {
  EngineOptions o = cpu_options();
  o.vocab_only = true;
  std::unique_ptr<Engine> e = Engine::load(kLlm, o);
  EXPECT_EQ(e->devices(), nullptr);
  EXPECT_FALSE(e->llm().tokenizer().encode("hello", true, false).empty());
  EXPECT_EQ(status_of([&] { e->create_session({}); }), Status::InvalidArgument);
  EXPECT_EQ(status_of([&] { e->load_vision(kVit); }), Status::InvalidArgument);
}

TEST(Engine, VisionOnlyEncodesButHasNoLanguageModel) {
  Engine e(cpu_options());
  e.load_vision(kVit);
  EXPECT_FALSE(e.has_llm());
  EXPECT_EQ(e.devices(), nullptr);
  EXPECT_EQ(status_of([&] { e.llm(); }), Status::InvalidArgument);
  EXPECT_EQ(status_of([&] { e.create_session({}); }), Status::InvalidArgument);
  expect_golden(e.encode_tiles(golden_tiles()));
}

TEST(Engine, FailedTowerLoadKeepsThePreviousTower) {
  std::unique_ptr<Engine> e = Engine::load(kLlm, cpu_options());
  e->load_vision(kVit);
  const VisionInfo before = e->vision_info();
  EXPECT_EQ(before.hparams.proj_dim, 256);
  EXPECT_EQ(status_of([&] { e->load_vision(data_path("golden/no-such-tower.gguf")); }), Status::Io);
  ASSERT_TRUE(e->has_vision());
  EXPECT_EQ(e->vision_info().weight_bytes, before.weight_bytes);
  expect_golden(e->encode_tiles(golden_tiles()));
}

TEST(Engine, EncodesAsyncWithATower) {
  std::unique_ptr<Engine> e = Engine::load(kLlm, cpu_options());
  e->load_vision(kVit);
  e->set_vision_batch(2);  // 3 tiles run as 2 + 1; the result does not depend on it
  std::shared_ptr<EncodeJob> tiles = e->encode_tiles_async(golden_tiles());
  const auto image = std::make_shared<const Image>(test_image(150, 100));
  std::shared_ptr<EncodeJob> img = e->encode_image_async(image);
  expect_golden(tiles->wait());
  const ImageEmbeddings& got = img->wait();
  EXPECT_EQ(got.n_tiles, got.grid.m * got.grid.n + 1);  // the thumbnail too
  EXPECT_EQ(got.n_tokens() * got.n_embd, static_cast<int64_t>(got.tokens.size()));
  // The synchronous call gives the same tokens.
  const ImageEmbeddings again = e->encode_image(*image);
  EXPECT_EQ(again.tokens, got.tokens);
}

TEST(Engine, EncodeWithoutATowerFailsAtOnce) {
  std::unique_ptr<Engine> e = Engine::load(kLlm, cpu_options());
  EXPECT_EQ(status_of([&] { e->encode_tiles_async(golden_tiles()); }), Status::InvalidArgument);
  EXPECT_EQ(status_of([&] { e->encode_image_async(std::make_shared<const Image>(test_image(20, 20))); }),
            Status::InvalidArgument);
  EXPECT_EQ(status_of([&] { e->vision_features(golden_tiles()); }), Status::InvalidArgument);
  e->wait_vision();  // no worker: returns at once
}

TEST(Engine, EncodeErrorsReachTheJob) {
  std::atomic<bool> cancel{false};
  EngineOptions o = cpu_options();
  o.progress = [&](const char* stage, float) {
    if (cancel && std::string(stage) == "encoding image") fail(Status::Cancelled, "cancelled");
  };
  Engine e(o);
  e.load_vision(kVit);
  std::vector<float> partial(golden_tiles().begin(), golden_tiles().end() - 1);
  std::shared_ptr<EncodeJob> bad = e.encode_tiles_async(partial);  // checked on the worker
  EXPECT_EQ(status_of([&] { bad->wait(); }), Status::InvalidArgument);
  cancel = true;
  std::shared_ptr<EncodeJob> cancelled = e.encode_tiles_async(golden_tiles());
  EXPECT_EQ(status_of([&] { cancelled->wait(); }), Status::Cancelled);
  cancel = false;
  expect_golden(e.encode_tiles_async(golden_tiles())->wait());
}

// A gate the test opens: the progress callback (on the worker) blocks on it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};

  void hold() {
    entered++;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(Engine, TextPrefillsWhileAnImageEncodes) {
  Gate gate;
  EngineOptions o = cpu_options();
  o.progress = [&](const char* stage, float) {
    if (std::string(stage) == "encoding image") gate.hold();
  };
  std::unique_ptr<Engine> e = Engine::load(kLlm, o);
  e->load_vision(kVit);
  SessionParams sp;
  sp.n_ctx = 128;
  sp.kv_type = DType::F32;
  std::unique_ptr<EngineSession> s = e->create_session(sp);
  std::shared_ptr<EncodeJob> job = e->encode_tiles_async(golden_tiles());  // returns at once
  while (gate.entered == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The worker holds the tower mid-encode; the language model and the tower's state are still free.
  const int32_t text[] = {1, 518, 127, 75, 398};
  s->prefill(text);
  EXPECT_EQ(s->n_past(), 5);
  EXPECT_TRUE(e->vision_info().weights_resident);
  EXPECT_FALSE(job->done());
  gate.release();
  s->prefill_image(job->wait());
  EXPECT_EQ(s->n_past(), 5 + 48);
}

TEST(Engine, ReleasePolicy) {
  std::unique_ptr<Engine> e = Engine::load(kLlm, cpu_options());
  e->load_vision(kVit);
  EXPECT_TRUE(e->release_policy().vision_when_idle);  // the default
  EXPECT_TRUE(e->vision_info().weights_resident);
  // Released when the queue runs empty...
  expect_golden(e->encode_tiles_async(golden_tiles())->wait());
  e->wait_vision();
  EXPECT_FALSE(e->vision_info().weights_resident);
  // ... kept with the policy off; the tokens are the same either way.
  e->set_release_policy({.vision_when_idle = false});
  expect_golden(e->encode_tiles(golden_tiles()));
  e->wait_vision();
  EXPECT_TRUE(e->vision_info().weights_resident);
  // Turned on again, the next empty queue releases them.
  e->set_release_policy({.vision_when_idle = true});
  expect_golden(e->encode_tiles(golden_tiles()));
  e->wait_vision();
  EXPECT_FALSE(e->vision_info().weights_resident);
  // The ViT's features bring them back too (and say so).
  EXPECT_EQ(e->vision_features(golden_tiles()).size(),
            read_f32(data_path("golden/tiny-v-f32.vit.f32")).size());
  EXPECT_TRUE(e->vision_info().weights_resident);
}

}  // namespace
}  // namespace bluecl::testing
