// OpenCL error reporting: every failed CL call becomes bluecl::Error naming the call, the error
// (CL_INVALID_WORK_GROUP_SIZE (-54)) and what bluecl was doing. Out-of-memory codes map to
// Status::OutOfMemory, everything else to Status::Device.
#pragma once

#include "graph/base/error.h"

#include <CL/opencl.hpp>

#include <string_view>

namespace bluecl {

const char* cl_error_name(cl_int err);

[[noreturn]] void throw_cl_error(cl_int err, std::string_view call, std::string_view doing);

// Runs f(), turning a cl::Error into bluecl::Error with `doing` as context.
template <typename F>
auto cl_guard(std::string_view doing, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const cl::Error& e) {
    throw_cl_error(e.err(), e.what(), doing);
  }
}

}  // namespace bluecl
