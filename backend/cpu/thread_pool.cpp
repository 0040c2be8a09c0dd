#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <cstdlib>

namespace bluecl::cpu {

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) {
    const char* env = std::getenv("BLUECL_THREADS");
    n_threads = env ? std::atoi(env) : 0;
    if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  n_threads_ = n_threads;
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_start_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int64_t, int64_t, int)>* job;
    int64_t n, chunk;
    {
      std::unique_lock lock(mu_);
      cv_start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      n = job_n_;
      chunk = job_chunk_;
    }
    const int64_t begin = std::min(n, index * chunk), end = std::min(n, begin + chunk);
    if (begin < end) (*job)(begin, end, index);
    if (pending_.fetch_sub(1) == 1) {
      std::lock_guard lock(mu_);
      cv_done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  if (n_threads_ == 1 || units == 1) {
    fn(0, n, 0);
    return;
  }
  std::lock_guard call_lock(call_mu_);
  const int64_t chunk = (units + n_threads_ - 1) / n_threads_ * grain;
  {
    std::lock_guard lock(mu_);
    job_ = &fn;
    job_n_ = n;
    job_chunk_ = chunk;
    pending_ = n_threads_ - 1;
    ++generation_;
  }
  cv_start_.notify_all();
  fn(0, std::min(n, chunk), 0);
  std::unique_lock lock(mu_);
  cv_done_.wait(lock, [&] { return pending_.load() == 0; });
}

}  // namespace bluecl::cpu
