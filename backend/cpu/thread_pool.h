// A fixed pool of worker threads for the CPU backend. parallel_for splits [0, n) into contiguous chunks,
// one per thread (the calling thread takes the first), and returns when all are done. Calls from
// several threads at once are serialised. An exception thrown by fn in any thread reaches the caller
// after every chunk has finished.
//
// A decode step runs ~260 parallel regions back to back, so waking workers through the kernel for each
// would cost more than some regions take. Workers (and the caller, waiting for them) therefore spin on
// an atomic for a short while (spin_us) before blocking on it; an idle pool sleeps and burns no CPU.
// The default spin (100 us) outlasts the single-threaded stretches inside a decode step (attention over
// a short context, norms, the executor), so workers do not sleep mid-token; it bounds the CPU a pool
// burns after its last region. Measured: decode speed is the same from 2 us to 1 ms (within noise).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bluecl::cpu {

class ThreadPool {
 public:
  // n_threads <= 0: BLUECL_THREADS, else the hardware's count. spin_us < 0: BLUECL_SPIN_US, else 100.
  explicit ThreadPool(int n_threads, int spin_us = -1);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // fn(begin, end, thread_index) over contiguous chunks of [0, n); chunks are multiples of `grain`.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain = 1);

  // fn(begin, end, thread_index) over [0, n) in chunks of `chunk` handed out on demand, in order: a
  // thread slowed down (by another process, or on a slower core) takes fewer chunks instead of
  // keeping the others waiting.
  void parallel_dynamic(int64_t n, int64_t chunk, const std::function<void(int64_t, int64_t, int)>& fn);

  // How many times a worker or the caller had to block (a kernel wait): for tests of the spin.
  uint64_t blocked_waits() const { return blocked_.load(std::memory_order_relaxed); }

 private:
  void worker(int index);
  // Waits until `word` differs from `old` (spinning first, then blocking), returns the new value.
  uint32_t await_change(std::atomic<uint32_t>& word, uint32_t old, std::atomic<int>& sleepers);

  int n_threads_;
  int64_t spin_ns_;
  std::vector<std::thread> threads_;
  std::mutex call_mu_;  // one parallel_for at a time

  // The job, published by bumping generation_ (release) and read by workers after seeing it (acquire).
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t job_n_ = 0, job_chunk_ = 0;
  bool stop_ = false;
  std::mutex error_mu_;
  std::exception_ptr error_;  // the first exception a worker's chunk threw, rethrown by the caller

  alignas(64) std::atomic<uint32_t> generation_{0};
  std::atomic<int> worker_sleepers_{0};
  alignas(64) std::atomic<uint32_t> done_{0};  // bumped by the last worker to finish a job
  std::atomic<int> pending_{0};
  std::atomic<int> caller_sleepers_{0};
  std::atomic<uint64_t> blocked_{0};
};

}  // namespace bluecl::cpu
