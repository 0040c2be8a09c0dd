#include "tests/testing.h"

#include "graph/base/error.h"
#include "graph/base/random_fill.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace bluecl::testing {

std::string data_path(const std::string& name) {
  return std::string(BLUECL_TEST_DATA_DIR) + "/" + name;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(Status::Io, "cannot open {}", path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::vector<float> read_f32(const std::string& path) {
  const std::vector<uint8_t> b = read_bytes(path);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

std::string read_text(const std::string& path) {
  const std::vector<uint8_t> b = read_bytes(path);
  return std::string(b.begin(), b.end());
}

std::vector<float> random_floats(size_t n, uint64_t seed, float lo, float hi) {
  return bluecl::random_floats(n, seed, lo, hi);  // one generator for tests, benches, tuner and cost model
}

std::vector<uint8_t> test_pattern(int w, int h, int seed) {
  std::vector<uint8_t> rgb(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(size_t(y) * w + x) * 3 + c] =
            static_cast<uint8_t>((x * (seed + 3) + y * (c + 1) * 7 + seed * 31) & 255);
  return rgb;
}

std::string temp_dir(const std::string& prefix) {
  namespace fs = std::filesystem;
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    fs::path p = fs::temp_directory_path() / fmt::format("{}-{:08x}", prefix, rd());
    if (fs::create_directory(p)) return p.string();
  }
  fail(Status::Io, "cannot create a temporary directory");
}

}  // namespace bluecl::testing

#include "tests/cl_testing.h"

namespace bluecl::testing {

const std::optional<ClDeviceInfo>& cl_device(std::string* why) {
  static std::string reason;
  // Deliberately never destroyed: a static destructor would release the handles after the driver is gone.
  static const auto* dev = new std::optional<ClDeviceInfo>(select_cl_device("", &reason));
  if (why) *why = reason;
  return *dev;
}

std::vector<std::shared_ptr<void>>& shared_cl_objects() {
  static auto* objects = new std::vector<std::shared_ptr<void>>;  // emptied by release_shared_cl_objects()
  return *objects;
}

void release_shared_cl_objects() {
  std::vector<std::shared_ptr<void>>& v = shared_cl_objects();
  while (!v.empty()) v.pop_back();
}

}  // namespace bluecl::testing
