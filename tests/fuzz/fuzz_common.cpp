// Shared helpers of the fuzz targets (tests/fuzz/fuzz.h).
#include "tests/fuzz/fuzz.h"

#include "graph/base/error.h"
#include "graph/base/log.h"
#include "host/gguf/gguf.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

namespace bluecl::fuzz {

namespace {
std::vector<Target>& registry() {
  static std::vector<Target> r;
  return r;
}
}  // namespace

bool register_target(const Target& t) {
  registry().push_back(t);
  return true;
}

const std::vector<Target>& targets() {
  return registry();
}

void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", what, file, line);
  std::abort();
}

void expect_input_error(const std::exception& e) {
  const auto* err = dynamic_cast<const Error*>(&e);
  if (err && err->status() != Status::Internal) return;
  std::fprintf(stderr, "fuzz: unexpected error for bad input: %s\n", e.what());
  std::abort();
}

const std::string& as_file(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("bluecl-fuzz", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0) check_failed("memfd_create", __FILE__, __LINE__);
  if (ftruncate(fd, 0) != 0) check_failed("ftruncate", __FILE__, __LINE__);
  size_t done = 0;
  while (done < size) {
    const ssize_t w = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (w <= 0) check_failed("pwrite", __FILE__, __LINE__);
    done += static_cast<size_t>(w);
  }
  return path;
}

std::string data_path(const std::string& name) {
  return std::string(BLUECL_FUZZ_DATA_DIR) + "/" + name;
}

Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(Status::Io, "cannot read " + path);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

std::string temp_dir() {
  static std::vector<std::filesystem::path> made;
  static const bool cleanup = [] {
    std::atexit([] {
      std::error_code ec;
      for (const auto& p : made) std::filesystem::remove_all(p, ec);
    });
    return true;
  }();
  (void)cleanup;
  std::string tmpl = (std::filesystem::temp_directory_path() / "bluecl-fuzz-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) check_failed("mkdtemp", __FILE__, __LINE__);
  made.emplace_back(tmpl);
  return tmpl;
}

Bytes write_small_vocab(const std::string& kind, int n_tokens, const std::string& path) {
  const std::string src = kind == "gpt2" ? "vocab/ggml-vocab-gpt-2.gguf" : "vocab/ggml-vocab-llama-spm.gguf";
  const auto f = GgufFile::open(data_path(src));
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", f->require_string("tokenizer.ggml.model"));
  if (f->has("tokenizer.ggml.pre")) w.copy_kv(*f, "tokenizer.ggml.pre");
  std::vector<std::string> tokens = f->get_string_array("tokenizer.ggml.tokens").value();
  tokens.resize(std::min<size_t>(tokens.size(), static_cast<size_t>(n_tokens)));
  const size_t n = tokens.size();
  if (auto s = f->get_float_array("tokenizer.ggml.scores")) {
    s->resize(n);
    w.set_f32_array("tokenizer.ggml.scores", *s);
  }
  if (auto t = f->get_int_array("tokenizer.ggml.token_type")) {
    w.set_i32_array("tokenizer.ggml.token_type", std::vector<int32_t>(t->begin(), t->begin() + n));
  }
  if (auto m = f->get_string_array("tokenizer.ggml.merges")) {
    const std::set<std::string> kept(tokens.begin(), tokens.end());
    std::vector<std::string> merges;
    for (const std::string& mg : *m) {
      const size_t sp = mg.find(' ');
      if (sp == std::string::npos) continue;
      const std::string a = mg.substr(0, sp), b = mg.substr(sp + 1);
      if (kept.count(a) && kept.count(b) && kept.count(a + b)) merges.push_back(mg);
    }
    w.set_string_array("tokenizer.ggml.merges", merges);
  }
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"}) {
    if (auto id = f->get_int(key); id && *id >= 0 && *id < static_cast<int64_t>(n))
      w.set_u32(key, static_cast<uint32_t>(*id));
  }
  for (const char* key :
       {"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix"}) {
    if (f->has(key)) w.copy_kv(*f, key);
  }
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.write(path);
  return read_bytes(path);
}

void quiet_logs() {
  set_log_level(LogLevel::Off);
}

}  // namespace bluecl::fuzz
