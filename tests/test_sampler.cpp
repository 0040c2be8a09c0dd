// The sampler: greedy, top-k, top-p, min-p, temperature, repetition penalty and seeding, checked
// against the distributions they should produce.
#include "graph/base/error.h"
#include "host/session/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace bluecl {
namespace {

// Logits whose softmax at temperature 1 is `probs`.
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::map<int32_t, int> histogram(SamplerParams p, const std::vector<float>& logits, int n) {
  std::map<int32_t, int> h;
  Sampler s(p);
  for (int i = 0; i < n; ++i) h[s.sample(logits)]++;
  return h;
}

const std::vector<double> kProbs = {0.05, 0.4, 0.3, 0.15, 0.1};

TEST(Sampler, GreedyTakesTheArgmax) {
  Sampler s({.temperature = 0});
  EXPECT_EQ(s.sample(logits_of(kProbs)), 1);
}

TEST(Sampler, TemperatureOneFollowsTheDistribution) {
  const auto h =
      histogram({.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0, .seed = 7}, logits_of(kProbs), 40000);
  for (size_t i = 0; i < kProbs.size(); ++i)
    EXPECT_NEAR(h.count(i) ? h.at(i) / 40000.0 : 0.0, kProbs[i], 0.01) << i;
}

TEST(Sampler, TopKKeepsTheKMostLikely) {
  const auto h =
      histogram({.temperature = 1, .top_k = 2, .top_p = 1, .min_p = 0, .seed = 7}, logits_of(kProbs), 20000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_NEAR(h.at(1) / 20000.0, 0.4 / 0.7, 0.015);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  // Sorted: 0.4, 0.3, 0.15, 0.1, 0.05 -> cumulative 0.4, 0.7, 0.85: p = 0.8 keeps three.
  const auto h = histogram({.temperature = 1, .top_k = 0, .top_p = 0.8f, .min_p = 0, .seed = 7},
                           logits_of(kProbs), 20000);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.count(4), 0u);
  EXPECT_EQ(h.count(0), 0u);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  // min_p 0.3 of p_max 0.4 = 0.12: keeps 0.4, 0.3, 0.15.
  const auto h = histogram({.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0.3f, .seed = 7},
                           logits_of(kProbs), 20000);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.count(4), 0u);
}

TEST(Sampler, LowTemperatureSharpens) {
  const auto h = histogram({.temperature = 0.1f, .top_k = 0, .top_p = 1, .min_p = 0, .seed = 7},
                           logits_of(kProbs), 5000);
  EXPECT_GT(h.at(1), 4500);
}

TEST(Sampler, SeedMakesItRepeatable) {
  const SamplerParams p{.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0, .seed = 123};
  Sampler a(p), b(p), c({.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0, .seed = 124});
  std::vector<int32_t> sa, sb, sc;
  for (int i = 0; i < 50; ++i) {
    sa.push_back(a.sample(logits_of(kProbs)));
    sb.push_back(b.sample(logits_of(kProbs)));
    sc.push_back(c.sample(logits_of(kProbs)));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(Sampler, RepetitionPenaltyDemotesRecentTokens) {
  // Token 1 leads 0.4 vs 0.3; after it is seen, a penalty of 2 on its logit (log 0.4 < 0, so multiplied)
  // makes token 2 the greedy choice.
  Sampler s({.temperature = 0, .repeat_penalty = 2.0f, .repeat_last_n = 4});
  s.accept(1);
  EXPECT_EQ(s.sample(logits_of(kProbs)), 2);
  // Positive logits are divided.
  Sampler t({.temperature = 0, .repeat_penalty = 2.0f, .repeat_last_n = 4});
  t.accept(0);
  EXPECT_EQ(t.sample(std::vector<float>{3.0f, 2.0f}), 1);
  // The window forgets old tokens.
  Sampler u({.temperature = 0, .repeat_penalty = 2.0f, .repeat_last_n = 1});
  u.accept(0);
  u.accept(1);
  EXPECT_EQ(u.sample(std::vector<float>{3.0f, 2.0f}), 0);
}

TEST(Sampler, RejectsMeaninglessParameters) {
  EXPECT_THROW(Sampler({.top_p = 0}), Error);
  EXPECT_THROW(Sampler({.min_p = 1}), Error);
  EXPECT_THROW(Sampler({.repeat_penalty = 0}), Error);
}

}  // namespace
}  // namespace bluecl
