#include "graph/base/error.h"

namespace bluecl {

const char* status_name(Status s) {
  switch (s) {
    case Status::Ok:
      return "ok";
    case Status::InvalidArgument:
      return "invalid argument";
    case Status::BadFile:
      return "bad file";
    case Status::Unsupported:
      return "unsupported";
    case Status::Device:
      return "device error";
    case Status::OutOfMemory:
      return "out of memory";
    case Status::ContextFull:
      return "context full";
    case Status::Cancelled:
      return "cancelled";
    case Status::Io:
      return "i/o error";
    case Status::Internal:
      return "internal error";
  }
  return "unknown";
}

void assert_failed(const char* cond, const char* file, int line, const std::string& msg) {
  throw Error(Status::Internal, fmt::format("internal error: {} ({}:{}: {})", msg, file, line, cond));
}

}  // namespace bluecl
