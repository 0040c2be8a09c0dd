#include "host/runtime/trace.h"

#include "graph/base/error.h"
#include "host/util/json.h"

#include <fstream>
#include <map>

namespace bluecl {

Tracer& Tracer::get() {
  static Tracer t;
  return t;
}

void Tracer::start() {
  std::lock_guard lock(mu_);
  events_.clear();
  origin_ = std::chrono::steady_clock::now();
  on_ = true;
}

void Tracer::stop() {
  on_ = false;
}

void Tracer::record(std::string name, std::string track, std::chrono::steady_clock::time_point begin,
                    std::chrono::steady_clock::time_point end) {
  std::lock_guard lock(mu_);
  const double b = std::chrono::duration<double, std::micro>(begin - origin_).count();
  const double d = std::chrono::duration<double, std::micro>(end - begin).count();
  events_.push_back({std::move(name), std::move(track), b, d});
}

std::vector<Tracer::Event> Tracer::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

std::string Tracer::json() const {
  std::lock_guard lock(mu_);
  std::map<std::string, int> tid;  // one thread row per track, in order of first appearance
  Json ev = Json::array();
  for (const Event& e : events_) {
    auto [it, added] = tid.emplace(e.track, static_cast<int>(tid.size()) + 1);
    if (added)
      ev.push_back(Json::object()
                       .set("name", "thread_name")
                       .set("ph", "M")
                       .set("pid", 1)
                       .set("tid", it->second)
                       .set("args", Json::object().set("name", e.track)));
    ev.push_back(Json::object()
                     .set("name", e.name)
                     .set("ph", "X")
                     .set("pid", 1)
                     .set("tid", it->second)
                     .set("ts", e.begin_us)
                     .set("dur", e.dur_us));
  }
  return to_json(Json::object().set("traceEvents", ev).set("displayTimeUnit", "ms"), 1);
}

void Tracer::write(const std::string& path) const {
  std::ofstream f(path);
  f << json();
  if (!f) fail(Status::Io, "cannot write the trace to {}", path);
}

}  // namespace bluecl
