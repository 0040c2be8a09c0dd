// The microbenchmark cases: the hot ops at the shapes of the full-size model (LLM: hidden 2560, FFN
// 6912, vocab 32000, 20 heads of 128; ViT: hidden 1152, FFN 4304, 16 heads of 72, 729 tokens per tile),
// with how many bytes each moves and how many FLOPs it does (for GB/s, GFLOP/s and % of the limits).
#pragma once

#include "tests/op_harness.h"

#include <string>
#include <vector>

namespace bluecl::bench {

struct BenchCase {
  testing::OpCase op;
  double bytes = 0;       // memory traffic of one run (weights once, activations in and out)
  double flops = 0;       // 2 per multiply-add
  bool check_cpu = true;  // compare with the CPU reference before timing (skipped for the largest)
  // Independent instances run in turn per iteration (each with its own weights), so that a decode GEMV's
  // weights come from memory as in a model, not from a last-level cache that holds one matrix.
  int copies = 1;
};

std::vector<BenchCase> bench_cases();

}  // namespace bluecl::bench
