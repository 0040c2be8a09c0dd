// Errors inside bluecl: typed exceptions carrying a status code that the C API passes to its callers.
// Bad input (a corrupt file, a malformed image, a prompt past the context) throws bluecl::Error with a
// message that names the problem; programmer bugs trip BLUECL_ASSERT.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace bluecl {

// Mirrors bluecl_status in host/include/bluecl/bluecl.h; keep the numbers in step.
enum class Status : int {
  Ok = 0,
  InvalidArgument = 1,  // a caller passed something meaningless
  BadFile = 2,          // a model or image file is corrupt, truncated or hostile
  Unsupported = 3,      // well-formed, but a type, architecture or feature we do not handle
  Device = 4,           // an OpenCL call failed or no usable device
  OutOfMemory = 5,
  ContextFull = 6,  // the prompt or generation ran past the context length
  Cancelled = 7,    // a callback asked to stop
  Io = 8,           // the operating system refused a read or write
  Internal = 9,     // a bug in bluecl
};

const char* status_name(Status s);

class Error : public std::runtime_error {
 public:
  Error(Status status, const std::string& msg) : std::runtime_error(msg), status_(status) {}
  Status status() const { return status_; }

 private:
  Status status_;
};

template <typename... Args>
[[noreturn]] void fail(Status status, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(status, fmt::format(f, std::forward<Args>(args)...));
}

[[noreturn]] void assert_failed(const char* cond, const char* file, int line, const std::string& msg);

}  // namespace bluecl

// Checks an invariant of bluecl itself (never user input): throws Status::Internal with context.
#define BLUECL_ASSERT(cond, ...)                                                               \
  do {                                                                                         \
    if (!(cond)) ::bluecl::assert_failed(#cond, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)
