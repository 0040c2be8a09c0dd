// main() for tests that need an OpenCL device: without one the test exits 77, which CTest reports as
// skipped (never as passed).
#include "tests/cl_testing.h"

#include <gtest/gtest.h>

#include <cstdio>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string why;
  if (!bluecl::testing::cl_device(&why)) {
    std::fprintf(stderr, "SKIP: %s\n", why.c_str());
    return 77;
  }
  return RUN_ALL_TESTS();
}
