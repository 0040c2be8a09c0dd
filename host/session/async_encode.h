// Decoupled image encoding (spec section 2(f)): images are encoded on a worker thread as soon as they
// arrive, while the caller goes on (tokenising, prefilling the text before the image); whoever needs the
// image tokens waits for them then. Jobs run one at a time, in order. When the queue runs empty the worker
// may release the vision tower's weights (device copies and the mapped pages) so peak memory drops.
#pragma once

#include "host/session/multimodal.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace bluecl {

// One image's encoding: its result, or the error it ended with.
class EncodeJob {
 public:
  // Waits for the encoding; rethrows its error.
  const ImageEmbeddings& wait();
  bool done();
  double encode_ms();  // wall time of the encoding itself (after waiting for earlier jobs)

 private:
  friend class VisionWorker;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  ImageEmbeddings e_;
  std::exception_ptr error_;
  double ms_ = 0;
  std::function<ImageEmbeddings()> work_;
};

class VisionWorker {
 public:
  // on_idle runs on the worker after a job when no other job is queued (releasing weights, for one).
  explicit VisionWorker(std::function<void()> on_idle = nullptr);
  ~VisionWorker();  // finishes the running job; queued ones end with Status::Cancelled
  VisionWorker(const VisionWorker&) = delete;
  VisionWorker& operator=(const VisionWorker&) = delete;

  std::shared_ptr<EncodeJob> submit(std::function<ImageEmbeddings()> work);
  void wait_idle();  // until every submitted job has finished

 private:
  void loop();
  std::function<void()> on_idle_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<EncodeJob>> queue_;
  bool busy_ = false, stop_ = false;
  std::thread thread_;
};

}  // namespace bluecl
