// Checked numbers from text: command-line options and BLUECL_* environment variables. Every parse names
// what it read, the value and the range in its error, so `--ctx 4294967296` or BLUECL_MAX_ALLOC=abc is a
// clear Status::InvalidArgument error instead of a silent cast, wrap or default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bluecl {

// A whole decimal integer (optional sign) in [lo, hi]. `what` names the source ("--ctx",
// "BLUECL_THREADS") in the error.
int64_t parse_int(std::string_view what, std::string_view text, int64_t lo, int64_t hi);

// A finite decimal real in [lo, hi].
double parse_real(std::string_view what, std::string_view text, double lo, double hi);

// A byte count: a whole number with an optional binary suffix K, M, G (or KiB, MiB, GiB; case-insensitive),
// in [lo, hi] bytes.
uint64_t parse_bytes(std::string_view what, std::string_view text, uint64_t lo, uint64_t hi);

// One of `choices` (a '|'-separated list, "on|off"); returns its index.
int parse_choice(std::string_view what, std::string_view text, std::string_view choices);

// The environment variable `name`; nullopt when it is unset or empty.
std::optional<std::string> env_text(const char* name);
// The checked value of an environment variable; nullopt when it is unset or empty.
std::optional<int64_t> env_int(const char* name, int64_t lo, int64_t hi);
std::optional<uint64_t> env_bytes(const char* name, uint64_t lo, uint64_t hi);
std::optional<int> env_choice(const char* name, std::string_view choices);

// A byte count for people: "512 B", "48 KiB", "3.5 MiB", "1.90 GiB".
std::string format_bytes(uint64_t bytes);

}  // namespace bluecl
