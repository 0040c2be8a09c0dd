// What every fuzz target shares. Each target file (gguf.cpp, model.cpp, image.cpp, tokenizer.cpp, state.cpp,
// json.cpp) defines a run function over one input, which throws nothing but the library's own Error for
// bad input (anything else, a crash, a sanitizer report or a failed check is a finding), and a seed
// function that writes its starting corpus from tests/data (small generated files, never large binaries).
//
// One source, two binaries: built with -fsanitize=fuzzer (tools/fuzz.sh) BLUECL_FUZZ_TARGET defines
// libFuzzer's entry point; built with BLUECL_FUZZ_REPLAY (every build, CTest's fuzz_replay.<target>) it
// registers the target with fuzz_replay, which runs the seeds and every saved input of
// tests/data/fuzz/<target>/ once, so findings stay covered by the normal gcc build too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bluecl::fuzz {

using Bytes = std::vector<uint8_t>;
using RunFn = int (*)(const uint8_t* data, size_t size);
// Calls emit(name, bytes) once per seed input.
using SeedFn = void (*)(const std::function<void(const std::string&, const Bytes&)>& emit);

struct Target {
  const char* name;
  RunFn run;
  SeedFn seeds;
};
bool register_target(const Target& t);  // fuzz_replay only
const std::vector<Target>& targets();

// A failed property check: prints the message and aborts (a finding, as a crash would be).
[[noreturn]] void check_failed(const char* what, const char* file, int line);
#define BLUECL_FUZZ_CHECK(cond) ((cond) ? (void)0 : ::bluecl::fuzz::check_failed(#cond, __FILE__, __LINE__))

// For an Error that bad input raised: BadFile, Unsupported, InvalidArgument, ... are expected; Internal
// (a BLUECL_ASSERT, a programmer bug) is a finding and aborts.
void expect_input_error(const std::exception& e);

// The input as a file, for the readers that take a path (the GGUF reader memory-maps it): one memfd per
// process, rewritten for each input; path() is /proc/self/fd/N.
const std::string& as_file(const uint8_t* data, size_t size);

// tests/data/<name>, and a file's bytes.
std::string data_path(const std::string& name);
Bytes read_bytes(const std::string& path);
// A fresh empty directory under the system's temporary directory, removed at exit.
std::string temp_dir();

// Small vocabulary GGUF files cut from the checked-in test vocabularies (the first n tokens, with their
// scores and types; for gpt2 the merges whose parts and result are kept): kind "llama" or "gpt2". Written
// to `path`; returns its bytes.
Bytes write_small_vocab(const std::string& kind, int n_tokens, const std::string& path);

// Quiet library logging (a malformed tuning file logs a warning per input otherwise).
void quiet_logs();

}  // namespace bluecl::fuzz

#if defined(BLUECL_FUZZ_REPLAY)
#define BLUECL_FUZZ_TARGET(name, run, seeds)                         \
  [[maybe_unused]] static const bool bluecl_fuzz_registered_##name = \
      ::bluecl::fuzz::register_target({#name, run, seeds});
#else
#define BLUECL_FUZZ_TARGET(name, run, seeds)                                \
  extern "C" int LLVMFuzzerInitialize(int*, char***) {                      \
    ::bluecl::fuzz::quiet_logs();                                           \
    return 0;                                                               \
  }                                                                         \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    return run(data, size);                                                 \
  }                                                                         \
  [[maybe_unused]] static const ::bluecl::fuzz::SeedFn bluecl_fuzz_seeds_##name = seeds;
#endif
