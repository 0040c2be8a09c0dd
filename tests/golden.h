// The golden references (tests/data/golden, copied from the shared golden set): token files, logits,
// and the agreement measures of its README (NMSE over all rows, top-1 agreement).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bluecl::testing {

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
