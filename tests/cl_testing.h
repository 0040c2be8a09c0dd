// The OpenCL device the tests run on (BLUECL_DEVICE, else the first GPU, else the first device).
#pragma once

#include "backend/cl/cl_device.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bluecl::testing {

// The device BLUECL_DEVICE names (else the first GPU, else the first device); nullopt, with the reason in
// *why, when there is none or the named one is absent: the OpenCL tests then skip, never falling back to
// another device. Kept until the process ends (a device handle owns nothing to release).
const std::optional<ClDeviceInfo>& cl_device(std::string* why = nullptr);

// Objects that hold OpenCL resources and are shared by a whole test binary (a backend, a device set) live
// here until cl_test_main's main() calls release_shared_cl_objects() after the tests, newest first, while
// the OpenCL drivers are intact. Static storage would release them from static destructors, after some
// drivers' own static state is gone (Oclgrind aborts in clReleaseProgram then: issue 14).
std::vector<std::shared_ptr<void>>& shared_cl_objects();
void release_shared_cl_objects();

template <typename T>
T& shared_until_tests_end(std::unique_ptr<T> p) {
  T& ref = *p;
  shared_cl_objects().push_back(std::shared_ptr<T>(std::move(p)));
  return ref;
}

}  // namespace bluecl::testing

// Skips the current test when there is no OpenCL device (the binary then exits 77: see cl_test_main.cpp).
#define BLUECL_REQUIRE_CL()                                                  \
  do {                                                                       \
    if (!::bluecl::testing::cl_device()) GTEST_SKIP() << "no OpenCL device"; \
  } while (0)
