#include "tests/golden.h"

#include "graph/base/error.h"
#include "graph/graph.h"
#include "host/model/llm_model.h"
#include "host/runtime/devices.h"
#include "host/util/json.h"
#include "tests/cl_testing.h"
#include "tests/testing.h"

#include <algorithm>
#include <map>
#include <memory>

namespace bluecl::testing {

std::vector<int32_t> GoldenTokens::all() const {
  std::vector<int32_t> v = prompt;
  v.insert(v.end(), generated.begin(), generated.end());
  return v;
}

GoldenTokens read_golden_tokens(const std::string& json_path) {
  const Json doc = parse_json(read_text(json_path));
  GoldenTokens t;
  for (const Json& v : doc.at("prompt_tokens").as_array())
    t.prompt.push_back(static_cast<int32_t>(v.as_int()));
  if (const Json* g = doc.find("generated_tokens"))
    for (const Json& v : g->as_array()) t.generated.push_back(static_cast<int32_t>(v.as_int()));
  return t;
}

Agreement compare_logits(const std::vector<float>& got, const std::vector<float>& ref, int64_t n_vocab) {
  BLUECL_ASSERT(got.size() == ref.size() && ref.size() % n_vocab == 0, "logits of {} vs {} floats",
                got.size(), ref.size());
  Agreement a;
  a.nmse = nmse(got.data(), ref.data(), static_cast<int64_t>(ref.size()));
  const int64_t rows = static_cast<int64_t>(ref.size()) / n_vocab;
  int64_t same = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = got.data() + r * n_vocab;
    const float* f = ref.data() + r * n_vocab;
    same += std::max_element(g, g + n_vocab) - g == std::max_element(f, f + n_vocab) - f;
  }
  a.top1 = static_cast<double>(same) / rows;
  return a;
}

const LlmModel& golden_llm(const std::string& stem) {
  static std::map<std::string, std::unique_ptr<LlmModel>> cache;
  auto& m = cache[stem];
  if (!m) m = LlmModel::load(data_path("golden/" + stem + ".gguf"));
  return *m;
}

Devices& exact_devices(bool cl) {
  static Devices cpu_only({.device = "cpu", .n_threads = 2, .cpu_precision = CpuPrecision::Reference});
  if (!cl) return cpu_only;
  // Released after the tests by cl_test_main (a static destructor may run after the driver is gone).
  static Devices& with_cl = shared_until_tests_end(std::make_unique<Devices>(DeviceOptions{
      .device = "", .n_threads = 2, .placement = "device", .cpu_precision = CpuPrecision::Reference}));
  return with_cl;
}

}  // namespace bluecl::testing
