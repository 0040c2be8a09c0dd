// The golden references (tests/data/golden, copied from the shared golden set): token files, logits,
// and the agreement measures of its README (NMSE over all rows, top-1 agreement).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bluecl {
class Devices;
class LlmModel;
}  // namespace bluecl

namespace bluecl::testing {

// A golden language model (tests/data/golden/<stem>.gguf), loaded once per test binary.
const LlmModel& golden_llm(const std::string& stem);
// Exact CPU arithmetic (CpuPrecision::Reference), alone or as the CPU half of a placement on the OpenCL
// device (--placement device): what the golden tolerances for fp32 engines apply to.
Devices& exact_devices(bool cl);

struct GoldenTokens {
  std::vector<int32_t> prompt, generated;
  std::vector<int32_t> all() const;  // prompt then generated (the teacher-forced sequence)
};
GoldenTokens read_golden_tokens(const std::string& json_path);

struct Agreement {
  double nmse = 0;
  double top1 = 0;  // fraction of rows whose argmax matches
};
Agreement compare_logits(const std::vector<float>& got, const std::vector<float>& ref, int64_t n_vocab);

}  // namespace bluecl::testing
