#include "host/session/sampler.h"

#include "graph/base/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

namespace bluecl {

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const SamplerParams& p) : p_(p), rng_(p.seed) {
  if (p.top_p <= 0.0f) fail(Status::InvalidArgument, "top-p must be > 0 (got {})", p.top_p);
  if (p.min_p >= 1.0f) fail(Status::InvalidArgument, "min-p must be < 1 (got {})", p.min_p);
  if (p.repeat_penalty <= 0.0f)
    fail(Status::InvalidArgument, "repeat penalty must be > 0 (got {})", p.repeat_penalty);
}

void Sampler::reset() {
  recent_.clear();
  rng_.seed(p_.seed);
}

void Sampler::accept(int32_t token) {
  if (p_.repeat_last_n <= 0) return;
  recent_.push_back(token);
  while (static_cast<int>(recent_.size()) > p_.repeat_last_n) recent_.pop_front();
}

int32_t Sampler::sample(std::span<const float> logits) {
  const auto n = static_cast<int32_t>(logits.size());
  work_.assign(logits.begin(), logits.end());
  if (p_.repeat_penalty != 1.0f) {
    const std::unordered_set<int32_t> seen(recent_.begin(), recent_.end());
    for (int32_t t : seen) {
      if (t < 0 || t >= n) continue;
      work_[t] = work_[t] > 0 ? work_[t] / p_.repeat_penalty : work_[t] * p_.repeat_penalty;
    }
  }
  int32_t tok;
  if (p_.temperature <= 0.0f) {
    tok = argmax(work_);
  } else {
    // Candidates sorted by logit, cut to top-k.
    idx_.resize(n);
    std::iota(idx_.begin(), idx_.end(), 0);
    const int k = p_.top_k > 0 ? std::min(p_.top_k, n) : n;
    std::partial_sort(idx_.begin(), idx_.begin() + k, idx_.end(),
                      [&](int32_t a, int32_t b) { return work_[a] > work_[b]; });
    idx_.resize(k);
    // Softmax at the temperature.
    std::vector<double> prob(k);
    const double mx = work_[idx_[0]];
    double sum = 0;
    for (int i = 0; i < k; ++i) sum += prob[i] = std::exp((work_[idx_[i]] - mx) / p_.temperature);
    for (double& q : prob) q /= sum;
    // Top-p: the smallest prefix whose mass reaches p (at least one token).
    int keep = k;
    if (p_.top_p < 1.0f) {
      double cum = 0;
      for (int i = 0; i < k; ++i) {
        cum += prob[i];
        if (cum >= p_.top_p) {
          keep = i + 1;
          break;
        }
      }
    }
    // Min-p: drop tokens below min_p times the most likely one.
    if (p_.min_p > 0.0f) {
      int i = 1;
      while (i < keep && prob[i] >= p_.min_p * prob[0]) ++i;
      keep = i;
    }
    std::discrete_distribution<int> dist(prob.begin(), prob.begin() + keep);
    tok = idx_[dist(rng_)];
  }
  accept(tok);
  return tok;
}

}  // namespace bluecl
