// Soak (issue 14 item 5): many conversation turns on one model and one session, and memory that stops
// growing. The tiny model (tiny-a-f32 with the tiny-v-f32 tower) runs a conversation of kCycle turns over
// and over through the C API: a reset and a question about a freshly encoded image, text follow-ups, a
// second image, a truncate back to the first image's prefix, a text turn. After a warm-up of N turns,
// the process's RSS (/proc/self/statm) after turn 2N stays within a small margin of its value after turn
// N, and the OpenCL device memory of the language model and of the vision tower (the backends' own
// counters: bluecl_model_info and bluecl_vision_info device_bytes) is the same at both points, byte for
// byte. Every cycle also answers exactly as the first one did (greedy tokens), so neither the reset nor the
// truncate leaves anything behind.
//
// The number of turns is BLUECL_SOAK_TURNS (default 24, the short version every test run includes, under
// 30 s); the long one: `BLUECL_SOAK_TURNS=3000 ctest -L soak` (or build/tests/test_soak with the variable).
// It runs on the CPU and on the OpenCL device BLUECL_DEVICE names (one CTest entry per device of
// BLUECL_TEST_CL_DEVICES, labelled `soak`).
#include "bluecl/bluecl.hpp"
#include "tests/cl_testing.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

// AddressSanitizer keeps freed memory in its quarantine (256 MiB by default), so a sanitized process's RSS
// grows with every allocation until the quarantine is full: there the RSS check says nothing, and
// LeakSanitizer checks for leaks instead. The device-memory and token checks run in every build.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

namespace bluecl::testing {
namespace {

#define ASSERT_OK(call) ASSERT_EQ((call), BLUECL_OK) << bluecl_last_error()

constexpr int kCycle = 6;    // turns of one conversation, repeated
constexpr int kPredict = 8;  // tokens generated per turn
constexpr int kDefaultTurns = 4 * kCycle;
// RSS after turn 2N may exceed RSS after turn N by this much: what the allocator keeps in its free lists
// and the OpenCL runtime's own caches, not a per-turn leak (the long run shows one as steady growth).
constexpr int64_t kRssMarginBytes = 4 << 20;

// Turns from BLUECL_SOAK_TURNS, rounded up to whole conversations; at least two cycles on each side of N.
int soak_turns() {
  const char* v = std::getenv("BLUECL_SOAK_TURNS");
  if (!v || !*v) return kDefaultTurns;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 1 || n > 10000000) {
    ADD_FAILURE() << "BLUECL_SOAK_TURNS: '" << v << "' is not an integer in [1, 10000000]";
    return kDefaultTurns;
  }
  const int cycles = std::max<int>(4, static_cast<int>((n + 2 * kCycle - 1) / (2 * kCycle)) * 2);
  return cycles * kCycle;
}

int64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

struct Memory {
  int64_t rss = 0;
  uint64_t llm_device = 0, vision_device = 0;
};

class Soak : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) BLUECL_REQUIRE_CL();
    bluecl_model_params p = bluecl_model_default_params();
    p.device = GetParam() ? "" : "cpu";
    p.placement = "device";  // on OpenCL every op the device takes runs there (and holds device memory)
    p.n_threads = 1;         // a soak measures memory; one thread keeps it fast on a busy machine
    ASSERT_OK(bluecl_model_load(data_path("golden/tiny-a-f32.gguf").c_str(), &p, bluecl::out(m_)));
    ASSERT_OK(bluecl_model_load_mmproj(m_.get(), data_path("golden/tiny-v-f32.gguf").c_str()));
    bluecl_session_params sp = bluecl_session_default_params();
    sp.n_ctx = 512;
    sp.kv_type = BLUECL_KV_F32;
    ASSERT_OK(bluecl_session_create(m_.get(), &sp, bluecl::out(s_)));
  }

  // One turn: a question (with a freshly encoded image where `picture` >= 0); returns its greedy tokens.
  std::vector<int32_t> ask(const std::string& question, int picture) {
    std::vector<int32_t> tokens;
    ImagePtr img;
    if (picture >= 0) {
      const int w = picture == 0 ? 196 : 150, h = picture == 0 ? 98 : 260;
      const std::vector<uint8_t> rgb = test_pattern(w, h, picture);
      EXPECT_EQ(bluecl_image_encode_rgb(m_.get(), rgb.data(), w, h, bluecl::out(img)), BLUECL_OK)
          << bluecl_last_error();
      if (!img) return tokens;
    }
    const bluecl_image* images[] = {img.get()};
    bluecl_generate_params gp = bluecl_generate_default_params();
    gp.n_predict = kPredict;
    gp.sampling.temperature = 0;
    gp.chat = 1;
    gp.images = img ? images : nullptr;
    gp.n_images = img ? 1 : 0;
    gp.on_token = [](int32_t token, const char*, size_t, void* user) {
      static_cast<std::vector<int32_t>*>(user)->push_back(token);
      return 0;
    };
    gp.user = &tokens;
    EXPECT_EQ(bluecl_generate(s_.get(), question.c_str(), &gp, nullptr), BLUECL_OK) << bluecl_last_error();
    return tokens;
  }

  // Turn `t` of the conversation cycle (each phase the same in every cycle).
  std::vector<int32_t> turn(int t) {
    switch (t % kCycle) {
      case 0: {  // a new conversation: reset, then a question about an image; the tower stays loaded
        EXPECT_EQ(bluecl_session_truncate(s_.get(), 0), BLUECL_OK) << bluecl_last_error();
        EXPECT_EQ(bluecl_model_set_vision_release(m_.get(), 0), BLUECL_OK);
        std::vector<int32_t> out = ask("What is in this picture?", 0);
        image_prefix_ = bluecl_session_n_past(s_.get()) - kPredict;
        return out;
      }
      case 1:
        return ask("Tell me more about the colours.", -1);
      case 2:
        return ask("And the shapes?", -1);
      case 3:  // a second image, after which the worker frees the tower (the next cycle reloads it)
        EXPECT_EQ(bluecl_model_set_vision_release(m_.get(), 1), BLUECL_OK);
        return ask("Compare it with this one.", 1);
      case 4:  // back to the end of the first turn's prompt (the image's KV kept), another question
        EXPECT_EQ(bluecl_session_truncate(s_.get(), image_prefix_), BLUECL_OK) << bluecl_last_error();
        return ask("Describe it in one word.", -1);
      default:
        // A session-state save and restore (bluecl_session_state_*) joins the cycle at this phase:
        // saved after this turn, restored into the session before the next, with the next cycle's
        // answers unchanged.
        return ask("Thank you.", -1);
    }
  }

  Memory memory() {
    EXPECT_EQ(bluecl_model_wait_vision(m_.get()), BLUECL_OK);  // the worker has released the tower
    Memory mem;
    mem.rss = rss_bytes();
    bluecl_model_info mi;
    EXPECT_EQ(bluecl_model_get_info(m_.get(), &mi), BLUECL_OK) << bluecl_last_error();
    mem.llm_device = mi.device_bytes;
    bluecl_vision_info vi;
    EXPECT_EQ(bluecl_model_get_vision_info(m_.get(), &vi), BLUECL_OK) << bluecl_last_error();
    mem.vision_device = vi.device_bytes;
    return mem;
  }

  ModelPtr m_;
  SessionPtr s_;
  int32_t image_prefix_ = 0;
};

TEST_P(Soak, MemoryStopsGrowing) {
  const int turns = soak_turns();
  const int half = turns / 2;
  std::vector<std::vector<int32_t>> first_cycle;
  // The memory after each turn of the cycle that ends at turn N and of the one that ends at turn 2N.
  std::vector<Memory> at_half(kCycle), at_end(kCycle);
  for (int t = 0; t < turns; ++t) {
    std::vector<int32_t> tokens = turn(t);
    ASSERT_EQ(tokens.size(), size_t(kPredict)) << "turn " << t;
    if (t < kCycle)
      first_cycle.push_back(std::move(tokens));
    else
      ASSERT_EQ(tokens, first_cycle[t % kCycle])
          << "turn " << t << " answers differently from turn " << t % kCycle;
    if (t >= half - kCycle && t < half) at_half[t % kCycle] = memory();
    if (t >= turns - kCycle) at_end[t % kCycle] = memory();
  }
  const auto mib = [](double b) { return b / (1 << 20); };
  const Memory &a = at_half.back(), &b = at_end.back();
  std::printf(
      "soak: %d turns; after turn %d / %d: RSS %.2f / %.2f MiB, device memory %.2f / %.2f MiB (language "
      "model), %.2f / %.2f MiB (vision tower; %.2f / %.2f MiB while kept after the first image)\n",
      turns, half, turns, mib(a.rss), mib(b.rss), mib(a.llm_device), mib(b.llm_device), mib(a.vision_device),
      mib(b.vision_device), mib(at_half[0].vision_device), mib(at_end[0].vision_device));
  for (int k = 0; k < kCycle; ++k) {
    const std::string at = "after phase " + std::to_string(k) + " of the cycle at turn " +
                           std::to_string(half) + " and at turn " + std::to_string(turns);
    if (!kAsan) {
      EXPECT_LE(at_end[k].rss, at_half[k].rss + kRssMarginBytes) << "RSS grew: " << at;
    }
    EXPECT_EQ(at_end[k].llm_device, at_half[k].llm_device)
        << "the language model's device memory changed: " << at;
    EXPECT_EQ(at_end[k].vision_device, at_half[k].vision_device)
        << "the tower's device memory changed: " << at;
  }
}

// The counter the soak reads for the tower: on OpenCL its kept weights show in bluecl_vision_info's
// device_bytes, and freeing them (the release policy) takes them off; on the CPU alone it stays 0.
TEST_P(Soak, VisionDeviceMemoryIsCounted) {
  uint64_t kept = 0, released = 0;
  for (int release : {0, 1}) {
    ASSERT_OK(bluecl_model_set_vision_release(m_.get(), release));
    ask("What is in this picture?", 0);
    const Memory mem = memory();
    (release ? released : kept) = mem.vision_device;
  }
  bluecl_vision_info vi;
  ASSERT_OK(bluecl_model_get_vision_info(m_.get(), &vi));
  if (!GetParam()) {
    EXPECT_EQ(kept, 0u);
    EXPECT_EQ(released, 0u);
    return;
  }
  EXPECT_GE(kept, vi.weight_bytes / 2) << "the tower's weights on the device are not counted";
  EXPECT_LT(released, kept) << "freeing the tower's weights did not lower its device memory";
}

INSTANTIATE_TEST_SUITE_P(Devices, Soak, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "OpenCl" : "Cpu"; });

}  // namespace
}  // namespace bluecl::testing
