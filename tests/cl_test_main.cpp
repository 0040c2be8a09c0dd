// main() for tests that use an OpenCL device. Every test runs; those that need a device skip themselves
// (BLUECL_REQUIRE_CL) when there is none, and the binary then exits 77, which CTest reports as skipped,
// never as passed. A failure still exits non-zero.
#include "tests/cl_testing.h"

#include <gtest/gtest.h>

#include <cstdio>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string why;
  const bool have = bluecl::testing::cl_device(&why).has_value();
  if (!have) std::fprintf(stderr, "no OpenCL device (%s): OpenCL tests are skipped\n", why.c_str());
  const int rc = RUN_ALL_TESTS();
  if (rc != 0) return rc;
  return have ? 0 : 77;
}
