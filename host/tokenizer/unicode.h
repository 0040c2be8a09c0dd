// UTF-8 and the few Unicode properties the tokenizers need, with llama.cpp's exact conventions.
//
// - utf8_seq_len: the length a lead byte announces (1 for ASCII, continuation and invalid bytes), with no
//   look at the following bytes; the SPM tokenizer and the BPE merge loop split text into "characters"
//   this way.
// - decode_utf8 / to_codepoints: strict enough to reject truncated sequences and stray bytes, each of
//   which becomes U+FFFD consuming one byte (what llama.cpp does before the GPT-2 pre-tokenizer).
// - unicode_class: the major General_Category (\p{L}, \p{N}, \p{P}, \p{S}, \p{M}, or other) of Unicode
//   15.1, from the table that tools/gen_unicode_tables.py writes (unicode_tables.cpp); is_letter and
//   is_number are two of its classes.
// - is_whitespace: the Unicode White_Space property (what \s means to the pre-tokenizers).
// - GPT-2 byte-level mapping: each byte 0..255 to a printable code point and back.
#pragma once

#include "graph/base/utf8.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bluecl::unicode {

inline constexpr uint32_t kReplacement = 0xFFFD;

// Length announced by a lead byte: 1 (0x00-0xBF), 2 (0xC0-0xDF), 3 (0xE0-0xEF), 4 (0xF0-0xFF).
inline size_t utf8_seq_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

struct Decoded {
  uint32_t cpt;  // kReplacement when !valid
  size_t len;    // bytes consumed (1 when !valid)
  bool valid;
};
// Decodes the code point starting at s[pos] (pos < s.size()). A sequence is valid when its lead byte is
// not a continuation byte or 0xF8-0xFF, all of its continuation bytes are present and the value is at
// most 0x10FFFF. Overlong forms and surrogates are accepted, as llama.cpp accepts them.
Decoded decode_utf8(std::string_view s, size_t pos);

std::vector<uint32_t> to_codepoints(std::string_view s);  // invalid bytes become U+FFFD
using bluecl::append_utf8;                                // graph/base/utf8.h; cpt <= 0x10FFFF
std::string to_utf8(uint32_t cpt);

// The major General_Category; values as tools/gen_unicode_tables.py numbers them.
enum class UnicodeClass : uint8_t {
  Other = 0,
  Letter = 1,
  Number = 2,
  Punctuation = 3,
  Symbol = 4,
  Mark = 5
};
UnicodeClass unicode_class(uint32_t cpt);  // Other beyond U+10FFFF

inline bool is_letter(uint32_t cpt) {
  if (cpt < 0x80) return (cpt | 0x20) >= 'a' && (cpt | 0x20) <= 'z';
  return unicode_class(cpt) == UnicodeClass::Letter;
}
inline bool is_number(uint32_t cpt) {
  if (cpt < 0x80) return cpt >= '0' && cpt <= '9';
  return unicode_class(cpt) == UnicodeClass::Number;
}
bool is_whitespace(uint32_t cpt);

// True when s is well-formed by decode_utf8's rules (every sequence complete and in range).
bool is_valid_utf8(std::string_view s);

// Length of the longest prefix of s that does not end inside an incomplete multi-byte sequence: only a
// trailing lead byte followed by fewer continuation bytes than it announces is held back. Used to stream
// detokenised bytes without splitting a character.
size_t complete_utf8_prefix(std::string_view s);

// GPT-2's byte-to-unicode table: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order. byte_to_cpt is a bijection onto 256 code points; cpt_to_byte returns -1 for a
// code point outside that image.
uint32_t byte_to_cpt(uint8_t b);
int cpt_to_byte(uint32_t cpt);

namespace detail {
extern const uint32_t kClassRuns[];  // unicode_tables.cpp: (first << 3) | class, sorted
extern const size_t kClassRunCount;
}  // namespace detail

}  // namespace bluecl::unicode
