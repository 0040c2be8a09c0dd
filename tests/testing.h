// Helpers shared by the tests: deterministic random data, reading reference files from tests/data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bluecl::testing {

// Path of a file in tests/data (the reference files copied from the golden set).
std::string data_path(const std::string& name);

std::vector<uint8_t> read_bytes(const std::string& path);
std::vector<float> read_f32(const std::string& path);  // raw little-endian float32
std::string read_text(const std::string& path);

// Uniform floats in [lo, hi) from a fixed seed.
std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

// An RGB test picture [h][w][3], a pattern that differs per seed.
std::vector<uint8_t> test_pattern(int w, int h, int seed);

// A fresh empty directory under the system temp dir, removed by the caller if wanted.
std::string temp_dir(const std::string& prefix);

}  // namespace bluecl::testing
