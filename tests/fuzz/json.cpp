// Fuzz target "json": the JSON reader (host/util/json) on any text, and the readers built on it: a token
// file as `bluecl logits --tokens` and the golden tests read it (an array of ids, or prompt_tokens and
// generated_tokens), and a device calibration as the cost model caches it (key, rate[10], launch and
// transfer figures). The same bytes also go through the tuning-file reader (ClTuning::load, a line
// format beside the calibration in the kernel cache). Checked: whatever parses writes back (compact and
// indented) to text that parses to an equal value; a tuning file that loads holds only parameters in
// (0, 4096] and reads back by its key.
#include "tests/fuzz/fuzz.h"

#include "backend/cl/cl_tuning.h"
#include "graph/base/error.h"
#include "host/util/json.h"

namespace bluecl::fuzz {
namespace {

// The token-file reader of tools/cmd_logits.cpp and tests/golden.cpp.
void as_tokens(const Json& doc) {
  std::vector<int64_t> ids;
  auto add = [&](const Json& arr) {
    for (const Json& v : arr.as_array()) ids.push_back(v.as_int());
  };
  if (doc.is_array()) {
    add(doc);
  } else {
    add(doc.at("prompt_tokens"));
    if (const Json* g = doc.find("generated_tokens")) add(*g);
  }
}

// The calibration cache's fields, read as host/runtime/cost_model.cpp reads them.
void as_calibration(const Json& j) {
  if (!j.is_object() || !j.contains("rate") || j.at("rate").size() != 10) return;
  (void)j.at("key").as_string();
  for (size_t i = 0; i < 10; ++i) (void)j.at("rate").at(i).as_number();
  for (const char* k : {"launch_s", "to_host_bps", "from_host_bps", "transfer_latency_s"})
    (void)j.at(k).as_number();
}

void walk(const Json& v, int depth) {
  BLUECL_FUZZ_CHECK(depth <= kJsonMaxDepth + 1);
  switch (v.kind()) {
    case Json::Kind::Null:
    case Json::Kind::Bool:
    case Json::Kind::String:
      break;
    case Json::Kind::Number:
      try {
        (void)v.as_int();
      } catch (const Error& e) {
        expect_input_error(e);
      }
      break;
    case Json::Kind::Array:
      for (const Json& e : v.as_array()) walk(e, depth + 1);
      break;
    case Json::Kind::Object:
      for (const auto& [k, e] : v.as_object()) {
        BLUECL_FUZZ_CHECK(v.find(k) == &e);  // keys are unique
        walk(e, depth + 1);
      }
      break;
  }
}

int run(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const Json doc = parse_json(text);
    walk(doc, 0);
    for (int indent : {-1, 2}) BLUECL_FUZZ_CHECK(parse_json(to_json(doc, indent)) == doc);
    for (auto read : {as_tokens, as_calibration}) {
      try {
        read(doc);
      } catch (const Error& e) {
        expect_input_error(e);
      }
    }
  } catch (const Error& e) {
    expect_input_error(e);
  }
  ClTuning t;
  if (t.load(as_file(data, size))) {
    for (const auto& [key, launch] : t.choices()) {
      BLUECL_FUZZ_CHECK(t.find(key) != nullptr && *t.find(key) == launch);
      for (const ClLaunchParamName& n : kClLaunchParamNames) {
        const std::optional<int>& v = launch.p.*n.field;
        BLUECL_FUZZ_CHECK(!v || (*v > 0 && *v <= 4096));
      }
    }
  }
  return 0;
}

// The golden token and grid files of tests/data/golden, a calibration and a tuning file as bluecl
// writes them, and small documents with every kind of value and escape.
void seeds(const std::function<void(const std::string&, const Bytes&)>& emit) {
  for (const char* f : {"golden/tiny-a-f32.tokens.json", "golden/tiny-c-bluelm-q4_0.tokens.json",
                        "golden/tiny-v-f32.json", "golden/mm-tiny-a-v.json"})
    emit(f, read_bytes(data_path(f)));
  auto text = [&](const std::string& name, const std::string& s) { emit(name, Bytes(s.begin(), s.end())); };
  Json rate = Json::array();
  for (int i = 0; i < 10; ++i) rate.push_back(1e9 * (i + 1));
  text("calibration", to_json(Json::object()
                                  .set("key", "cpu|2 threads|bluecl 0.1.0")
                                  .set("rate", rate)
                                  .set("launch_s", 2.5e-6)
                                  .set("to_host_bps", 0)
                                  .set("from_host_bps", 0)
                                  .set("transfer_latency_s", 0),
                              2));
  ClTuning t;
  t.set(ClTuningKey::matmul(DType::Q4_0, 1), ClLaunch{ClVariant::Rows, {.items = 8}});
  t.set(ClTuningKey::matmul(DType::Q8_0, 128),
        ClLaunch{ClVariant::Tile, {.tm = 4, .tn = 4, .bm = 64, .bn = 32}});
  t.set(ClTuningKey::rms_norm(), ClLaunch{ClVariant::Default, {.wg = 256}});
  const std::string path = temp_dir() + "/tune.txt";
  t.save(path);
  emit("tuning", read_bytes(path));
  text("tokens-array", "[1, 2, 3, 31999]");
  text("values",
       R"({"a": [null, true, false, -0, 1.5e-300, 12345678901234567890, "\u00e9\ud83d\ude00\n\"\\/"],
 "b": {"c": {}, "d": []}, "e": -9007199254740993})");
}

}  // namespace
}  // namespace bluecl::fuzz

BLUECL_FUZZ_TARGET(json, bluecl::fuzz::run, bluecl::fuzz::seeds)
