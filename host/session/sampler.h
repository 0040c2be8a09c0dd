// Token sampling from logits: repetition penalty over the last tokens, then greedy (temperature <= 0)
// or top-k -> temperature -> softmax -> top-p -> min-p -> a draw from a seeded generator.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <vector>

namespace bluecl {

struct SamplerParams {
  float temperature = 0.8f;     // <= 0: greedy
  int top_k = 40;               // <= 0: off
  float top_p = 0.95f;          // >= 1: off
  float min_p = 0.05f;          // <= 0: off (keeps tokens with p >= min_p * p_max)
  float repeat_penalty = 1.0f;  // 1: off; >1 divides positive logits (multiplies negative) of recent tokens
  int repeat_last_n = 64;
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p);
  int32_t sample(std::span<const float> logits);  // also records the token for the repetition penalty
  void accept(int32_t token);                     // records a token fed without sampling (the prompt)
  void reset();

 private:
  SamplerParams p_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<float> work_;
  std::vector<int32_t> idx_;
};

int32_t argmax(std::span<const float> logits);

}  // namespace bluecl
