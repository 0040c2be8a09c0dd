// Host limits: threads stream disjoint halves of a large buffer (read: sum; copy: memcpy); FMA: each
// thread runs independent 8-wide FMA chains.
#include "backend/limits.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace bluecl {

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double best_seconds(int reps, F&& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

template <typename F>
void on_threads(int n, F&& f) {
  std::vector<std::thread> ts;
  for (int i = 1; i < n; ++i) ts.emplace_back([&, i] { f(i); });
  f(0);
  for (auto& t : ts) t.join();
}

float sum_range(const float* p, size_t n) {
#if defined(__AVX2__)
  __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = _mm256_add_ps(a, _mm256_load_ps(p + i));
    b = _mm256_add_ps(b, _mm256_load_ps(p + i + 8));
    c = _mm256_add_ps(c, _mm256_load_ps(p + i + 16));
    d = _mm256_add_ps(d, _mm256_load_ps(p + i + 24));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
  float s = 0;
  for (float v : t) s += v;
  for (; i < n; ++i) s += p[i];
  return s;
#else
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  for (; i < n; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
#endif
}

float fma_chains(long iters) {
#if defined(__AVX2__) && defined(__FMA__)
  __m256 v[12];
  for (int k = 0; k < 12; ++k) v[k] = _mm256_set1_ps(static_cast<float>(k));
  const __m256 m = _mm256_set1_ps(0.999f), s = _mm256_set1_ps(0.001f);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < 12; ++k) v[k] = _mm256_fmadd_ps(v[k], m, s);
  __m256 t = v[0];
  for (int k = 1; k < 12; ++k) t = _mm256_add_ps(t, v[k]);
  alignas(32) float o[8];
  _mm256_store_ps(o, t);
  return o[0];
#else
  float v[12];
  for (int k = 0; k < 12; ++k) v[k] = static_cast<float>(k);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < 12; ++k) v[k] = v[k] * 0.999f + 0.001f;
  return v[0];
#endif
}

constexpr int kFmaPerIter =
#if defined(__AVX2__) && defined(__FMA__)
    12 * 8;
#else
    12;
#endif

}  // namespace

Limits measure_host_limits(int n_threads, size_t bytes) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Limits l;
  l.device = "host";
  const size_t n = bytes / sizeof(float);
  auto* a = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
  auto* b = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
  std::memset(a, 1, n * sizeof(float));  // touch every page before timing
  std::memset(b, 0, n * sizeof(float));
  const size_t per = n / n_threads / 64 * 64;
  std::vector<float> sink(n_threads);
  double t =
      best_seconds(3, [&] { on_threads(n_threads, [&](int i) { sink[i] = sum_range(a + i * per, per); }); });
  l.read_gbps = per * n_threads * sizeof(float) / t / 1e9;
  t = best_seconds(3, [&] {
    on_threads(n_threads, [&](int i) { std::memcpy(b + i * per, a + i * per, per * sizeof(float)); });
  });
  l.copy_gbps = 2.0 * per * n_threads * sizeof(float) / t / 1e9;
  const long iters = 20'000'000;
  t = best_seconds(2, [&] { on_threads(n_threads, [&](int i) { sink[i] = fma_chains(iters); }); });
  l.fma_gflops = 2.0 * kFmaPerIter * iters * n_threads / t / 1e9;
  std::free(a);
  std::free(b);
  return l;
}

}  // namespace bluecl
