// fuzz_replay: the fuzz targets without libFuzzer, for every build (gcc included).
//   fuzz_replay TARGET [FILE|DIR ...]   run the target's generated seeds, then each file (directories
//                                       recursively, e.g. tests/data/fuzz/TARGET); CTest's fuzz_replay.*
//   fuzz_replay --seeds TARGET DIR      write the seeds into DIR (tools/fuzz.sh's starting corpus)
//   fuzz_replay --list                  the target names
// A finding crashes or aborts, as under libFuzzer; a clean run prints what it ran and exits 0.
#include "tests/fuzz/fuzz.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string_view>

namespace fs = std::filesystem;
using namespace bluecl::fuzz;

namespace {

const Target* find(std::string_view name) {
  for (const Target& t : targets())
    if (name == t.name) return &t;
  std::fprintf(stderr, "fuzz_replay: unknown target '%.*s' (targets:", int(name.size()), name.data());
  for (const Target& t : targets()) std::fprintf(stderr, " %s", t.name);
  std::fprintf(stderr, ")\n");
  return nullptr;
}

std::string file_name(const std::string& seed) {
  std::string s = "seed-";
  for (char c : seed) s += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return s;
}

int write_seeds(const Target& t, const fs::path& dir) {
  fs::create_directories(dir);
  int n = 0;
  t.seeds([&](const std::string& name, const Bytes& b) {
    std::ofstream(dir / file_name(name), std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    ++n;
  });
  std::printf("fuzz_replay %s: wrote %d seeds to %s\n", t.name, n, dir.c_str());
  return 0;
}

int replay(const Target& t, int argc, char** argv) {
  int n_seeds = 0, n_files = 0;
  t.seeds([&](const std::string&, const Bytes& b) {
    t.run(b.data(), b.size());
    ++n_seeds;
  });
  std::vector<fs::path> files;
  for (int i = 0; i < argc; ++i) {
    const fs::path p = argv[i];
    if (fs::is_directory(p)) {
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::exists(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "fuzz_replay: %s does not exist\n", p.c_str());
      return 1;
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    const Bytes b = read_bytes(f.string());
    std::fprintf(stderr, "fuzz_replay %s: %s\n", t.name, f.c_str());
    t.run(b.data(), b.size());
    ++n_files;
  }
  std::printf("fuzz_replay %s: %d seeds and %d saved inputs ran clean\n", t.name, n_seeds, n_files);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  quiet_logs();
  const std::string_view a1 = argc > 1 ? argv[1] : "";
  if (a1 == "--list") {
    for (const Target& t : targets()) std::printf("%s\n", t.name);
    return 0;
  }
  if (a1 == "--seeds" && argc == 4) {
    const Target* t = find(argv[2]);
    return t ? write_seeds(*t, argv[3]) : 2;
  }
  if (argc < 2 || a1.starts_with("-")) {
    std::fprintf(stderr, "usage: fuzz_replay TARGET [FILE|DIR ...] | --seeds TARGET DIR | --list\n");
    return 2;
  }
  const Target* t = find(a1);
  return t ? replay(*t, argc - 2, argv + 2) : 2;
}
