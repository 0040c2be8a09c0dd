// UTF-8 coding, Unicode categories and the GPT-2 byte mapping; see unicode.h for the conventions. The
// category table itself is generated (unicode_tables.cpp, by tools/gen_unicode_tables.py).
#include "host/tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace bluecl::unicode {
namespace {

struct ByteMap {
  std::array<uint32_t, 256> to_cpt{};
  std::array<int16_t, 324> from_cpt{};  // indexed by code point; the image lies below U+0144
  ByteMap() {
    from_cpt.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cpt[b] = printable ? uint32_t(b) : next++;
      from_cpt[to_cpt[b]] = int16_t(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

}  // namespace

Decoded decode_utf8(std::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return uint8_t(s[pos + i]); };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) return {b0, 1, true};
  size_t len = 0;
  uint32_t cpt = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cpt = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cpt = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cpt = b0 & 0x07;
  } else {
    return {kReplacement, 1, false};  // a continuation byte or 0xF8..0xFF in lead position
  }
  if (pos + len > s.size()) return {kReplacement, 1, false};
  for (size_t i = 1; i < len; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return {kReplacement, 1, false};
    cpt = (cpt << 6) | (byte(i) & 0x3F);
  }
  if (cpt > 0x10FFFF) return {kReplacement, 1, false};
  return {cpt, len, true};
}

std::vector<uint32_t> to_codepoints(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    const Decoded d = decode_utf8(s, pos);
    out.push_back(d.cpt);
    pos += d.len;
  }
  return out;
}

std::string to_utf8(uint32_t cpt) {
  std::string s;
  append_utf8(s, cpt);
  return s;
}

UnicodeClass unicode_class(uint32_t cpt) {
  // The last run that starts at or before cpt holds it.
  if (cpt > 0x10FFFF) return UnicodeClass::Other;
  const uint32_t* first = detail::kClassRuns;
  const uint32_t* it = std::upper_bound(first, first + detail::kClassRunCount, (cpt << 3) | 7);
  return UnicodeClass(it[-1] & 7);  // the first run starts at U+0000, so it > first
}

bool is_whitespace(uint32_t cpt) {
  switch (cpt) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cpt >= 0x2000 && cpt <= 0x200A;
  }
}

bool is_valid_utf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const Decoded d = decode_utf8(s, pos);
    if (!d.valid) return false;
    pos += d.len;
  }
  return true;
}

size_t complete_utf8_prefix(std::string_view s) {
  // Look back at most 3 bytes for the lead byte of the last sequence.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t b = uint8_t(s[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // a continuation byte: keep looking for its lead
    if (b < 0x80 || b >= 0xF8) return n;
    const size_t want = utf8_seq_len(b);
    return want > back ? n - back : n;
  }
  return n;  // only continuation bytes at the end (or nothing): nothing can complete them
}

uint32_t byte_to_cpt(uint8_t b) {
  return byte_map().to_cpt[b];
}

int cpt_to_byte(uint32_t cpt) {
  return cpt < byte_map().from_cpt.size() ? byte_map().from_cpt[cpt] : -1;
}

}  // namespace bluecl::unicode
