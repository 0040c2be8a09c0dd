// bluecl tokenize: the token ids of a text, space-separated on one line.
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

int body(int argc, char** argv) {
  std::string model, text, file;
  bool no_bos = false, special = false;
  Args a("tokenize", "-m FILE.gguf [--no-bos] (TEXT | -f FILE)",
         "Prints the token ids of TEXT (or of FILE's exact bytes), space-separated. Works with model files\n"
         "and vocabulary-only files.");
  a.opt("-m,--model", &model, "a model or vocabulary GGUF file", "FILE");
  a.opt("-f,--file", &file, "read the text from FILE (its exact bytes: no newline is stripped)", "FILE");
  a.flag("--no-bos", &no_bos, "do not add BOS (or EOS) even where the vocabulary asks for them");
  a.flag("--special", &special, "parse control-token text such as <s> into its id");
  a.positional("TEXT", &text, "the text (unless -f)", false);
  if (!a.parse(argc, argv)) return 0;
  if (model.empty()) throw std::runtime_error("-m FILE.gguf is required");
  if (!file.empty()) {
    if (!text.empty()) throw std::runtime_error("give TEXT or -f FILE, not both");
    std::ifstream f(file, std::ios::binary);
    if (!f) throw Failure{"cannot read " + file};
    text.assign(std::istreambuf_iterator<char>(f), {});
  }
  bluecl_model_params p = bluecl_model_default_params();
  p.vocab_only = 1;
  bluecl_model* m = nullptr;
  check(bluecl_model_load(model.c_str(), &p, &m), "loading the vocabulary");
  ModelPtr owner(m);
  size_t n = 0;
  std::vector<int32_t> ids(text.size() + 8);
  check(bluecl_tokenize(m, text.data(), text.size(), no_bos ? 0 : 1, special ? 1 : 0, ids.data(), ids.size(),
                        &n),
        "tokenizing");
  for (size_t i = 0; i < n; ++i) std::printf(i ? " %d" : "%d", ids[i]);
  std::printf("\n");
  return 0;
}

}  // namespace

int tokenize_main(int argc, char** argv) {
  return run_command("tokenize", body, argc, argv);
}

}  // namespace bluecl::cli
