// Library logging: a user-settable sink (stderr by default) with a level and a component tag.
// Only tools write to stdout; the library reports through here.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace bluecl {

enum class LogLevel : int { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

using LogSink = void (*)(LogLevel level, const char* tag, const char* msg, void* user);

// Replaces the sink (nullptr restores stderr). The threshold starts from BLUECL_LOG (debug, info, warn,
// error, off; default info).
void set_log_sink(LogSink sink, void* user);
void set_log_level(LogLevel level);
LogLevel log_level();
void log_message(LogLevel level, std::string_view tag, std::string_view msg);

template <typename... Args>
void log(LogLevel level, std::string_view tag, fmt::format_string<Args...> f, Args&&... args) {
  if (level < log_level()) return;
  log_message(level, tag, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace bluecl
