// Helpers shared by the tests: deterministic random data, reading reference files from tests/data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BLUECL_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BLUECL_TEST_SANITIZED 1
#endif

namespace bluecl::testing {

// Built under ASan or TSan (tools/sanitize.sh): a wall-clock limit there measures the sanitizer, so the
// speed checks skip (they run in the normal build).
#ifdef BLUECL_TEST_SANITIZED
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// Path of a file in tests/data (the reference files copied from the golden set).
std::string data_path(const std::string& name);

std::vector<uint8_t> read_bytes(const std::string& path);
std::vector<float> read_f32(const std::string& path);  // raw little-endian float32
std::string read_text(const std::string& path);

// Uniform floats in [lo, hi) from a fixed seed.
std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

// A fresh empty directory under the system temp dir, removed by the caller if wanted.
std::string temp_dir(const std::string& prefix);

}  // namespace bluecl::testing
