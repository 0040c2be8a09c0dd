#include "graph/base/parse.h"

#include "graph/base/error.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace bluecl {

namespace {

[[noreturn]] void bad(std::string_view what, std::string_view text, std::string_view expected) {
  fail(Status::InvalidArgument, "{}: '{}' is not {}", what, text, expected);
}

std::string int_range(int64_t lo, int64_t hi) {
  if (hi == std::numeric_limits<int64_t>::max()) return fmt::format("an integer >= {}", lo);
  return fmt::format("an integer in [{}, {}]", lo, hi);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

int64_t parse_int(std::string_view what, std::string_view text, int64_t lo, int64_t hi) {
  std::string_view t = text;
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  int64_t v = 0;
  const char* end = t.data() + t.size();
  auto [p, ec] = std::from_chars(t.data(), end, v);
  if (t.empty() || ec != std::errc() || p != end || v < lo || v > hi) bad(what, text, int_range(lo, hi));
  return v;
}

double parse_real(std::string_view what, std::string_view text, double lo, double hi) {
  // from_chars for double is in libstdc++ 11+; strtod needs a terminated copy.
  const std::string s(text);
  char* end = nullptr;
  const double v =
      s.empty() || std::isspace(static_cast<unsigned char>(s[0])) ? NAN : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < lo || v > hi)
    bad(what, text, fmt::format("a number in [{}, {}]", lo, hi));
  return v;
}

uint64_t parse_bytes(std::string_view what, std::string_view text, uint64_t lo, uint64_t hi) {
  const std::string expected =
      hi == std::numeric_limits<uint64_t>::max()
          ? fmt::format("a size of at least {} (bytes, or with a K, M or G suffix)", format_bytes(lo))
          : fmt::format("a size in [{}, {}] (bytes, or with a K, M or G suffix)", format_bytes(lo),
                        format_bytes(hi));
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + digits, v);
  if (digits == 0 || ec != std::errc()) bad(what, text, expected);
  const std::string_view suffix = text.substr(digits);
  int shift = -1;
  if (suffix.empty() || iequals(suffix, "b")) shift = 0;
  static constexpr std::string_view kShort[] = {"k", "m", "g"};
  static constexpr std::string_view kLong[] = {"kib", "mib", "gib"};
  for (int i = 0; i < 3; ++i)
    if (iequals(suffix, kShort[i]) || iequals(suffix, kLong[i])) shift = 10 * (i + 1);
  if (shift < 0) bad(what, text, expected);
  if (shift > 0 && v > (std::numeric_limits<uint64_t>::max() >> shift)) bad(what, text, expected);
  v <<= shift;
  if (v < lo || v > hi) bad(what, text, expected);
  return v;
}

int parse_choice(std::string_view what, std::string_view text, std::string_view choices) {
  int i = 0;
  for (std::string_view rest = choices;; ++i) {
    const size_t bar = rest.find('|');
    if (text == rest.substr(0, bar)) return i;
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  fail(Status::InvalidArgument, "{}: '{}' is not one of {}", what, text, choices);
}

std::optional<std::string> env_text(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::optional<int64_t> env_int(const char* name, int64_t lo, int64_t hi) {
  const auto t = env_text(name);
  if (!t) return std::nullopt;
  return parse_int(name, *t, lo, hi);
}

std::optional<uint64_t> env_bytes(const char* name, uint64_t lo, uint64_t hi) {
  const auto t = env_text(name);
  if (!t) return std::nullopt;
  return parse_bytes(name, *t, lo, hi);
}

std::optional<int> env_choice(const char* name, std::string_view choices) {
  const auto t = env_text(name);
  if (!t) return std::nullopt;
  return parse_choice(name, *t, choices);
}

std::string format_bytes(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024, kMiB = kKiB << 10, kGiB = kMiB << 10;
  const double b = static_cast<double>(bytes);
  if (bytes < kKiB) return fmt::format("{} B", bytes);
  if (bytes < kMiB) return fmt::format("{:.3g} KiB", b / kKiB);
  if (bytes < kGiB) return fmt::format("{:.3g} MiB", b / kMiB);
  return fmt::format("{:.3g} GiB", b / kGiB);
}

}  // namespace bluecl
