// The op test table: every op x dtype x several shapes (odd sizes, K not a multiple of the tile, one
// row and many rows), with per-op NMSE thresholds against the CPU backend. Shared by test_ops.cpp and
// the microbenchmarks.
#pragma once

#include "tests/op_harness.h"

#include <vector>

namespace bluecl::testing {

std::vector<OpCase> all_op_cases();

}  // namespace bluecl::testing
