// The OpenCL device the tests run on (BLUECL_DEVICE, else the first GPU, else the first device).
#pragma once

#include "backend/cl/cl_device.h"

#include <optional>
#include <string>

namespace bluecl::testing {

const std::optional<ClDeviceInfo>& cl_device(std::string* why = nullptr);

}  // namespace bluecl::testing

// Skips the current test when there is no OpenCL device (the binary then exits 77: see cl_test_main.cpp).
#define BLUECL_REQUIRE_CL()                                                               \
  do {                                                                                    \
    if (!::bluecl::testing::cl_device()) GTEST_SKIP() << "no OpenCL device";              \
  } while (0)
