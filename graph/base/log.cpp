#include "graph/base/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace bluecl {

namespace {

struct LogState {
  std::mutex mu;
  LogSink sink = nullptr;
  void* user = nullptr;
  LogLevel level = LogLevel::Info;
  LogState() {
    // An unknown level cannot be an error here (the first log line may come from anywhere, a destructor
    // included): it is reported once on stderr and the default kept.
    if (const char* env = std::getenv("BLUECL_LOG"); env && *env) {
      static constexpr const char* names[] = {"debug", "info", "warn", "error", "off"};
      bool known = false;
      for (int i = 0; i < 5; ++i)
        if (std::strcmp(env, names[i]) == 0) {
          level = static_cast<LogLevel>(i);
          known = true;
        }
      if (!known)
        std::fprintf(stderr, "bluecl: BLUECL_LOG: '%s' is not one of debug|info|warn|error|off; using info\n",
                     env);
    }
  }
};

LogState& state() {
  static LogState s;
  return s;
}

}  // namespace

void set_log_sink(LogSink sink, void* user) {
  std::lock_guard lock(state().mu);
  state().sink = sink;
  state().user = user;
}

void set_log_level(LogLevel level) {
  state().level = level;
}
LogLevel log_level() {
  return state().level;
}

void log_message(LogLevel level, std::string_view tag, std::string_view msg) {
  LogState& s = state();
  if (level < s.level) return;
  std::lock_guard lock(s.mu);
  std::string tag_s(tag), msg_s(msg);
  if (s.sink) {
    s.sink(level, tag_s.c_str(), msg_s.c_str(), s.user);
    return;
  }
  static constexpr const char* prefix[] = {"debug", "info", "warning", "error", ""};
  std::fprintf(stderr, "bluecl %s [%s]: %s\n", prefix[static_cast<int>(level)], tag_s.c_str(), msg_s.c_str());
}

}  // namespace bluecl
