// Hashes for cache keys and checksums, from xxHash (libxxhash): XXH3-128 names cached files (program
// binaries, device calibrations), where a collision would load the wrong thing; XXH3-64 checks that a
// cached payload was read back whole. Not for security: a cache folder is trusted like the binary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bluecl {

struct Hash128 {
  uint64_t lo = 0, hi = 0;
  bool operator==(const Hash128&) const = default;
  std::string hex() const;  // 32 lowercase hex digits, high half first
};

Hash128 hash128(std::string_view bytes);
uint64_t hash64(std::string_view bytes);

}  // namespace bluecl
