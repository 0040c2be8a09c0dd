// bluecl logits: teacher-forced logits of every position of a token sequence, as raw float32 rows
// [n_tokens][n_vocab] (for tests and for comparing with other engines).
#include "host/util/json.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

namespace bluecl::cli {

namespace {

// An array of ids, or an object with prompt_tokens (+ optional generated_tokens), as in the golden files.
std::vector<int32_t> read_tokens(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Failure{"cannot read " + path};
  const std::string text(std::istreambuf_iterator<char>(f), {});
  std::vector<int32_t> ids;
  try {
    const Json doc = parse_json(text);
    auto add = [&](const Json& arr) {
      for (const Json& v : arr.as_array()) ids.push_back(static_cast<int32_t>(v.as_int()));
    };
    if (doc.is_array()) {
      add(doc);
    } else {
      add(doc.at("prompt_tokens"));
      if (const Json* g = doc.find("generated_tokens")) add(*g);
    }
  } catch (const std::exception& e) {
    throw Failure{path + ": " + e.what()};
  }
  if (ids.empty()) throw Failure{path + ": no tokens"};
  return ids;
}

int body(int argc, char** argv) {
  std::string model, tokens_path, out, kv = "f32";
  bool fast = false;
  int64_t chunk = 128;
  DeviceArgs dev;
  Args a("logits", "-m MODEL.gguf --tokens FILE.json --out LOGITS.f32 [options]",
         "Feeds the token sequence with teacher forcing and writes the logits after every position as raw\n"
         "little-endian float32 rows [n_tokens][n_vocab].");
  a.opt("-m,--model", &model, "the language model", "FILE");
  a.opt("--tokens", &tokens_path,
        "JSON: an array of ids, or {\"prompt_tokens\": [...], \"generated_tokens\": [...]}", "FILE");
  a.opt("-o,--out", &out, "where to write the logits", "FILE");
  a.opt("--chunk", &chunk, "prefill chunk size (default 128)", {1, 1 << 20});
  a.opt("--kv", &kv, "KV cache type: f32 (default), f16, q8_0", "TYPE");
  dev.declare(a);
  a.flag("--fast", &fast,
         "use the CPU's fast path (8-bit activations) instead of the exact one, the default here");
  if (!a.parse(argc, argv)) return 0;
  dev.exact = !fast;  // logits are for comparisons: exact unless asked otherwise
  if (model.empty() || tokens_path.empty() || out.empty())
    throw std::runtime_error("-m, --tokens and --out are required");
  const std::vector<int32_t> ids = read_tokens(tokens_path);

  bluecl_model_params mp = dev.model_params();
  bluecl_model* m = nullptr;
  check(bluecl_model_load(model.c_str(), &mp, &m), "loading the model");
  ModelPtr model_owner(m);
  bluecl_session_params sp = bluecl_session_default_params();
  sp.n_ctx = static_cast<int32_t>(std::max<size_t>(ids.size(), 16));
  sp.n_chunk = static_cast<int32_t>(chunk);
  sp.all_logits = 1;
  sp.kv_type = kv == "f32"    ? BLUECL_KV_F32
               : kv == "f16"  ? BLUECL_KV_F16
               : kv == "q8_0" ? BLUECL_KV_Q8_0
                              : BLUECL_KV_DEFAULT;
  if (sp.kv_type == BLUECL_KV_DEFAULT) throw std::runtime_error("--kv must be f32, f16 or q8_0");
  bluecl_session* s = nullptr;
  check(bluecl_session_create(m, &sp, &s), "creating a session");
  SessionPtr session_owner(s);
  check(bluecl_session_prefill(s, ids.data(), ids.size()), "feeding the tokens");
  const float* logits = nullptr;
  size_t rows = 0, n_vocab = 0;
  check(bluecl_session_logits(s, &logits, &rows, &n_vocab), "reading logits");
  std::FILE* f = std::fopen(out.c_str(), "wb");
  if (!f) throw Failure{"cannot write " + out};
  const size_t written = std::fwrite(logits, sizeof(float), rows * n_vocab, f);
  if (std::fclose(f) != 0 || written != rows * n_vocab) throw Failure{"writing " + out + " failed"};
  std::fprintf(stderr, "wrote %zu x %zu logits to %s\n", rows, n_vocab, out.c_str());
  return 0;
}

}  // namespace

int logits_main(int argc, char** argv) {
  return run_command("logits", body, argc, argv);
}

}  // namespace bluecl::cli
