// Seeded random data for tests, benches, the tuner and the cost model: the same seed gives the same values
// on every run (mt19937_64 is fixed by the standard; the distributions are libstdc++'s, the only library
// we build with). Floats are uniform in [lo, hi); bytes are the low 8 bits of each draw.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace bluecl {

inline void fill_random(std::span<float> out, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& x : out) x = dist(rng);
}

inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(n);
  fill_random(v, seed, lo, hi);
  return v;
}

inline std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

}  // namespace bluecl
