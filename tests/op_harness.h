// The op test table's case type, on top of the single-op runner in backend/op_runner.h.
#pragma once

#include "backend/op_runner.h"

#include <functional>
#include <ostream>
#include <string>

namespace bluecl::testing {

using bluecl::OpBuilder;
using bluecl::OpRun;
using bluecl::PreparedOp;
using bluecl::run_op;

struct OpCase {
  std::string name;  // "matmul/q4_0/M7xK160xN65"
  std::function<void(OpBuilder&)> build;
  double max_nmse = 1e-10;  // against the CPU backend
  Step step;
  std::string force_op, force_variant;  // a CL kernel variant to force, if any
};
void PrintTo(const OpCase& c, std::ostream* os);  // gtest prints the case's name

}  // namespace bluecl::testing
