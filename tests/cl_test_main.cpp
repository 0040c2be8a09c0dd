// main() for tests that use an OpenCL device. Every test runs; those that need a device skip themselves
// (BLUECL_REQUIRE_CL) when there is none, or when BLUECL_DEVICE names one that is absent, and the binary
// then exits 77, which CTest reports as skipped, never as passed. A failure still exits non-zero. Shared
// OpenCL objects are released here, before main returns (see shared_until_tests_end).
#include "tests/cl_testing.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string why;
  bool have = false;
  try {
    have = bluecl::testing::cl_device(&why).has_value();
  } catch (const std::exception& e) {  // an unknown BLUECL_DEVICE_PROFILE, say: a failure, not a skip
    std::fprintf(stderr, "cannot list the OpenCL devices: %s\n", e.what());
    return 1;
  }
  if (!have) {
    std::fprintf(stderr, "no OpenCL device (%s): OpenCL tests are skipped\n", why.c_str());
  } else {
    const bluecl::DeviceFeatures& f = bluecl::testing::cl_device()->features;
    std::printf("OpenCL device: %s (%s): %s\n", f.device_name.c_str(), f.platform_name.c_str(),
                f.summary().c_str());
  }
  const int rc = RUN_ALL_TESTS();
  bluecl::testing::release_shared_cl_objects();
  if (rc != 0) return rc;
  return have ? 0 : 77;
}
