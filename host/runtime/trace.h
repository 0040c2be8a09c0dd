// A Chrome trace (chrome://tracing, Perfetto) of what ran where: spans on named tracks ("cpu: prepare",
// "cl0: vit"), recorded from any thread, written as JSON. Off unless started; a span then costs two clock
// reads and a lock.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace bluecl {

class Tracer {
 public:
  static Tracer& get();

  void start();  // clears and begins recording
  void stop();
  bool on() const { return on_; }
  void record(std::string name, std::string track, std::chrono::steady_clock::time_point begin,
              std::chrono::steady_clock::time_point end);
  std::string json() const;                   // {"traceEvents": [...]}
  void write(const std::string& path) const;  // throws Error(Io)

  struct Event {
    std::string name, track;
    double begin_us, dur_us;
  };
  std::vector<Event> events() const;

 private:
  mutable std::mutex mu_;
  bool on_ = false;
  std::chrono::steady_clock::time_point origin_;
  std::vector<Event> events_;
};

// Records [construction, destruction) as a span when tracing is on.
class TraceSpan {
 public:
  TraceSpan(std::string name, std::string track)
      : on_(Tracer::get().on()),
        name_(std::move(name)),
        track_(std::move(track)),
        begin_(on_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{}) {}
  ~TraceSpan() {
    if (on_)
      Tracer::get().record(std::move(name_), std::move(track_), begin_, std::chrono::steady_clock::now());
  }
  TraceSpan(const TraceSpan&) = delete;
  TraceSpan& operator=(const TraceSpan&) = delete;

 private:
  bool on_;
  std::string name_, track_;
  std::chrono::steady_clock::time_point begin_;
};

}  // namespace bluecl
