// What bluecl bench's parts share: a result row (repetitions, median, the limit it is bounded by) and
// a clock.
#pragma once

#include "bluecl/bluecl.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace bluecl::cli {

using Clock = std::chrono::steady_clock;
inline double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Row {
  std::string test;
  std::vector<double> values;  // one per repetition
  std::string unit;
  // What one unit of the value costs, to set it against a limit: bytes read (bounded by bandwidth) or
  // FLOPs (bounded by the FMA rate). Zero when no limit applies.
  double bytes_per_unit = 0, flops_per_unit = 0;
  double median() const {
    std::vector<double> v = values;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
};

// Image benchmarks (bench_image.cpp): encode times (one tile, a 2:4 image; serial and pipelined), time to
// first token with and without decoupled encoding, and memory before and after the tower is freed.
std::vector<Row> bench_images(const std::string& model, const std::string& mmproj, const std::string& device,
                              int64_t threads, int64_t reps, double typing_s);

// Resident memory of this process now (GiB).
double rss_gib();

}  // namespace bluecl::cli
