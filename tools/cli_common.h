// What the subcommands share: turning a failed C API call into a message and exit code, progress lines
// on stderr, and the options every model-running command takes.
#pragma once

#include "bluecl/bluecl.hpp"
#include "tools/args.h"

#include <string>

namespace bluecl::cli {

// Thrown by check(): carries the already-formatted message and the exit code: 2 for a meaningless
// argument (BLUECL_ERR_INVALID_ARGUMENT: an out-of-range option or BLUECL_* variable), 1 for the rest.
struct Failure {
  std::string message;
  int code = 1;
};

// Throws Failure with bluecl_last_error() when status is not BLUECL_OK.
void check(bluecl_status status, const char* what);

// Runs a subcommand body: Failure -> "bluecl <cmd>: <message>" and its code; bad arguments -> exit 2.
int run_command(const char* command, int (*body)(int, char**), int argc, char** argv);

// A progress callback for bluecl_model_params that draws "\r<stage> 45%" lines on stderr.
int stderr_progress(const char* stage, float fraction, void* user);

struct DeviceArgs {
  std::string device;
  int64_t threads = 0;
  std::string pins;
  std::string placement;
  bool exact = false;  // the CPU's exact reference path
  void declare(Args& a);
  bluecl_model_params model_params() const;  // with stderr progress
};

}  // namespace bluecl::cli
