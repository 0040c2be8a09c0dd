// The OpenCL device the tests run on (BLUECL_DEVICE, else the first GPU, else the first device).
#pragma once

#include "backend/cl/cl_device.h"

#include <optional>
#include <string>

namespace bluecl::testing {

const std::optional<ClDeviceInfo>& cl_device(std::string* why = nullptr);

}  // namespace bluecl::testing
