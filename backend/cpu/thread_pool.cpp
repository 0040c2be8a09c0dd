#include "backend/cpu/thread_pool.h"

#include "graph/base/parse.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace bluecl::cpu {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ThreadPool::ThreadPool(int n_threads, int spin_us) {
  if (n_threads <= 0) {
    n_threads = static_cast<int>(env_int("BLUECL_THREADS", 1, 1024).value_or(0));
    if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (spin_us < 0) {
    spin_us = static_cast<int>(env_int("BLUECL_SPIN_US", 0, 1000000).value_or(100));
  }
  n_threads_ = n_threads;
  spin_ns_ = int64_t{spin_us} * 1000;
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (auto& t : threads_) t.join();
}

// Spin, then block. The sleeper count lets the publisher skip the wake-up syscall when nobody sleeps:
// the sleeper increments it before re-checking the word, the publisher changes the word before reading
// the count (both sequentially consistent), so one of them always sees the other.
uint32_t ThreadPool::await_change(std::atomic<uint32_t>& word, uint32_t old, std::atomic<int>& sleepers) {
  uint32_t v = word.load(std::memory_order_acquire);
  if (v != old) return v;
  const int64_t deadline = now_ns() + spin_ns_;
  for (int i = 0;; ++i) {
    for (int j = 0; j < 16; ++j) {
      cpu_relax();
      v = word.load(std::memory_order_acquire);
      if (v != old) return v;
    }
    if ((i & 7) == 7 && now_ns() >= deadline) break;
  }
  sleepers.fetch_add(1, std::memory_order_seq_cst);
  while ((v = word.load(std::memory_order_seq_cst)) == old) {
    blocked_.fetch_add(1, std::memory_order_relaxed);
    word.wait(old, std::memory_order_seq_cst);
  }
  sleepers.fetch_sub(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  return v;
}

void ThreadPool::worker(int index) {
  uint32_t seen = 0;
  for (;;) {
    seen = await_change(generation_, seen, worker_sleepers_);
    if (stop_) return;
    const int64_t n = job_n_, chunk = job_chunk_;
    const int64_t begin = std::min(n, index * chunk), end = std::min(n, begin + chunk);
    if (begin < end) {
      try {
        (*job_)(begin, end, index);
      } catch (...) {
        std::lock_guard lock(error_mu_);
        if (!error_) error_ = std::current_exception();
      }
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      done_.fetch_add(1, std::memory_order_seq_cst);
      if (caller_sleepers_.load(std::memory_order_seq_cst) > 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                              int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  if (n_threads_ == 1 || units == 1) {
    fn(0, n, 0);
    return;
  }
  std::lock_guard call_lock(call_mu_);
  const int64_t chunk = (units + n_threads_ - 1) / n_threads_ * grain;
  job_ = &fn;
  job_n_ = n;
  job_chunk_ = chunk;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  const uint32_t done = done_.load(std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (worker_sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();
  std::exception_ptr mine;
  try {
    fn(0, std::min(n, chunk), 0);
  } catch (...) {
    mine = std::current_exception();
  }
  await_change(done_, done, caller_sleepers_);  // workers may not outlive fn, even when it threw
  if (mine) std::rethrow_exception(mine);
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ThreadPool::parallel_dynamic(int64_t n, int64_t chunk,
                                  const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  chunk = std::max<int64_t>(1, chunk);
  if (n_threads_ == 1 || n <= chunk) {
    fn(0, n, 0);
    return;
  }
  alignas(64) std::atomic<int64_t> next{0};
  parallel_for(n_threads_, [&](int64_t, int64_t, int t) {
    for (;;) {
      const int64_t i = next.fetch_add(chunk, std::memory_order_relaxed);
      if (i >= n) return;
      fn(i, std::min(n, i + chunk), t);
    }
  });
}

}  // namespace bluecl::cpu
