#include "host/session/async_encode.h"

#include "graph/base/error.h"
#include "graph/base/log.h"

#include <chrono>

namespace bluecl {

const ImageEmbeddings& EncodeJob::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return done_; });
  if (error_) std::rethrow_exception(error_);
  return e_;
}

bool EncodeJob::done() {
  std::lock_guard lock(mu_);
  return done_;
}

double EncodeJob::encode_ms() {
  wait();
  return ms_;
}

VisionWorker::VisionWorker(std::function<void()> on_idle)
    : on_idle_(std::move(on_idle)), thread_([this] { loop(); }) {}

VisionWorker::~VisionWorker() {
  std::deque<std::shared_ptr<EncodeJob>> abandoned;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    abandoned.swap(queue_);
  }
  cv_.notify_all();
  thread_.join();
  for (auto& job : abandoned) {
    std::lock_guard lock(job->mu_);
    job->error_ = std::make_exception_ptr(
        Error(Status::Cancelled, "the model was freed before this image was encoded"));
    job->done_ = true;
    job->cv_.notify_all();
  }
}

std::shared_ptr<EncodeJob> VisionWorker::submit(std::function<ImageEmbeddings()> work) {
  auto job = std::make_shared<EncodeJob>();
  job->work_ = std::move(work);
  {
    std::lock_guard lock(mu_);
    queue_.push_back(job);
  }
  cv_.notify_all();
  return job;
}

void VisionWorker::wait_idle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void VisionWorker::loop() {
  for (;;) {
    std::shared_ptr<EncodeJob> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = queue_.front();
      queue_.pop_front();
      busy_ = true;
    }
    ImageEmbeddings e;
    std::exception_ptr error;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      e = job->work_();
    } catch (...) {
      error = std::current_exception();
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    {
      std::lock_guard lock(job->mu_);
      job->e_ = std::move(e);
      job->error_ = error;
      job->ms_ = ms;
      job->done_ = true;
      job->work_ = nullptr;
    }
    job->cv_.notify_all();
    bool idle;
    {
      std::lock_guard lock(mu_);
      idle = queue_.empty();
    }
    if (idle && on_idle_) {
      try {
        on_idle_();
      } catch (const std::exception& ex) {
        log(LogLevel::Warn, "vision", "after encoding: {}", ex.what());
      }
    }
    {
      std::lock_guard lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
}

}  // namespace bluecl
