// The primitives in graph/base: atomic file writes (whole files only, unique temporaries, nothing left
// behind), XXH3 hashes against xxHash's published test values, UTF-8 encoding at every length boundary,
// seeded random data, and checked numbers from text.
#include "graph/base/atomic_file.h"
#include "graph/base/error.h"
#include "graph/base/hash.h"
#include "graph/base/parse.h"
#include "graph/base/random_fill.h"
#include "graph/base/utf8.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace bluecl {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

TEST(AtomicFile, TemporaryNamesAreUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(unique_temp_path("/x/costs.json")).second);
  EXPECT_EQ(unique_temp_path("/x/costs.json").rfind("/x/costs.json.tmp-", 0), 0u);
}

// Eight threads rewrite one file many times: every read sees one writer's whole contents, and no
// temporary is left. With one fixed temporary name the writers would interleave into one file.
TEST(AtomicFile, ConcurrentWritersLeaveAWholeFile) {
  const std::string dir = testing::temp_dir("bluecl-atomic");
  const fs::path path = fs::path(dir) / "shared.txt";
  std::vector<std::string> contents;
  for (int t = 0; t < 8; ++t) contents.push_back(std::string(20000 + 1000 * t, char('a' + t)));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) write_file_atomic(path, contents[t]);
    });
  for (auto& th : threads) th.join();
  const std::string got = testing::read_text(path.string());
  EXPECT_NE(std::find(contents.begin(), contents.end(), got), contents.end()) << got.size() << " bytes";
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"shared.txt"});
  fs::remove_all(dir);
}

TEST(AtomicFile, FailuresLeaveNothing) {
  const std::string dir = testing::temp_dir("bluecl-atomic");
  try {
    write_file_atomic(fs::path(dir) / "no/such/dir/f.bin", "x");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::Io);
    EXPECT_NE(std::string(e.what()).find("no/such/dir/f.bin.tmp-"), std::string::npos) << e.what();
  }
  {
    AtomicFile f(fs::path(dir) / "f.bin");
    f.write("half");
  }  // not committed: removed, the target never appears
  EXPECT_TRUE(names_in(dir).empty());
  write_file_atomic(fs::path(dir) / "f.bin", "old");
  {
    AtomicFile f(fs::path(dir) / "f.bin");
    f.write("new, but abandoned");
  }
  EXPECT_EQ(testing::read_text(dir + "/f.bin"), "old");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"f.bin"});
  fs::remove_all(dir);
}

// Reference values from xxHash's own sanity checks (tests/sanity_test_vectors.h, seed 0): the empty input.
TEST(Hash, Xxh3KnownValues) {
  EXPECT_EQ(hash64(""), 0x2D06800538D394C2ULL);
  const Hash128 e = hash128("");
  EXPECT_EQ(e.lo, 0x6001C324468D497FULL);
  EXPECT_EQ(e.hi, 0x99AA06D3014798D8ULL);
  EXPECT_EQ(e.hex(), "99aa06d3014798d86001c324468d497f");
  EXPECT_NE(hash128("kernel a"), hash128("kernel b"));
  EXPECT_EQ(hash128(std::string(1000, 'q')), hash128(std::string(1000, 'q')));
}

TEST(Utf8, EncodesEveryLength) {
  const std::pair<uint32_t, std::string> cases[] = {{0x24, "\x24"},
                                                    {0x7F, "\x7F"},
                                                    {0x80, "\xC2\x80"},
                                                    {0xE9, "\xC3\xA9"},
                                                    {0x7FF, "\xDF\xBF"},
                                                    {0x800, "\xE0\xA0\x80"},
                                                    {0x20AC, "\xE2\x82\xAC"},
                                                    {0xFFFF, "\xEF\xBF\xBF"},
                                                    {0x10000, "\xF0\x90\x80\x80"},
                                                    {0x1F600, "\xF0\x9F\x98\x80"},
                                                    {0x10FFFF, "\xF4\x8F\xBF\xBF"}};
  for (const auto& [cp, want] : cases) {
    std::string s = "<";
    append_utf8(s, cp);
    EXPECT_EQ(s, "<" + want) << std::hex << cp;
  }
}

TEST(RandomFill, SeededAndInRange) {
  const std::vector<float> a = random_floats(1000, 5, -2.0f, 3.0f), b = random_floats(1000, 5, -2.0f, 3.0f);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, random_floats(1000, 6, -2.0f, 3.0f));
  float lo = 1e9f, hi = -1e9f;
  for (float x : a) lo = std::min(lo, x), hi = std::max(hi, x);
  EXPECT_GE(lo, -2.0f);
  EXPECT_LT(hi, 3.0f);
  EXPECT_LT(lo, -1.9f);  // spread over the range, not stuck
  EXPECT_GT(hi, 2.9f);
  const std::vector<uint8_t> bytes = random_bytes(4096, 1);
  EXPECT_EQ(bytes, random_bytes(4096, 1));
  EXPECT_EQ(std::set<uint8_t>(bytes.begin(), bytes.end()).size(), 256u);
}

// Checked numbers: the whole text must be a number in range, and the error names the source, the value
// and the range.
std::string parse_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::InvalidArgument);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(Parse, Integers) {
  EXPECT_EQ(parse_int("--n", "42", 0, 100), 42);
  EXPECT_EQ(parse_int("--n", "+7", 0, 100), 7);
  EXPECT_EQ(parse_int("--n", "-1", -1, 100), -1);
  EXPECT_EQ(parse_int("--n", "9223372036854775807", 0, INT64_MAX), INT64_MAX);
  for (const char* bad : {"", " 1", "1 ", "1x", "0x10", "1e3", "abc", "101", "-2", "4294967296",
                          "99999999999999999999", "+", "--1"}) {
    const std::string msg = parse_error([&] { parse_int("--ctx", bad, -1, 100); });
    EXPECT_NE(msg.find("--ctx"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::string("'") + bad + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[-1, 100]"), std::string::npos) << msg;
  }
}

TEST(Parse, Reals) {
  EXPECT_DOUBLE_EQ(parse_real("--temp", "0.5", 0, 1), 0.5);
  EXPECT_DOUBLE_EQ(parse_real("--temp", "1e-3", 0, 1), 1e-3);
  for (const char* bad : {"", "nan", "inf", "-0.1", "1.5", "0.5x", " 0.5", "1e400"})
    EXPECT_NE(parse_error([&] { parse_real("--top-p", bad, 0, 1); }).find("--top-p"), std::string::npos);
}

TEST(Parse, Bytes) {
  EXPECT_EQ(parse_bytes("B", "4096", 1, UINT64_MAX), 4096u);
  EXPECT_EQ(parse_bytes("B", "64K", 1, UINT64_MAX), 64u << 10);
  EXPECT_EQ(parse_bytes("B", "3MiB", 1, UINT64_MAX), 3u << 20);
  EXPECT_EQ(parse_bytes("B", "2g", 1, UINT64_MAX), uint64_t{2} << 30);
  for (const char* bad : {"", "abc", "-1", "0", "1T", "12 M", "M", "18446744073709551616", "17179869184G"})
    EXPECT_NE(
        parse_error([&] { parse_bytes("BLUECL_MAX_ALLOC", bad, 1, UINT64_MAX); }).find("BLUECL_MAX_ALLOC"),
        std::string::npos)
        << bad;
}

TEST(Parse, ChoicesAndEnvironment) {
  EXPECT_EQ(parse_choice("X", "off", "on|off"), 1);
  EXPECT_NE(parse_error([&] { parse_choice("BLUECL_TUNING", "no", "on|off"); }).find("on|off"),
            std::string::npos);
  ::setenv("BLUECL_TEST_PARSE", "12", 1);
  EXPECT_EQ(env_int("BLUECL_TEST_PARSE", 1, 64), 12);
  ::setenv("BLUECL_TEST_PARSE", "", 1);
  EXPECT_FALSE(env_int("BLUECL_TEST_PARSE", 1, 64).has_value());
  ::setenv("BLUECL_TEST_PARSE", "abc", 1);
  EXPECT_NE(parse_error([] { env_int("BLUECL_TEST_PARSE", 1, 64); }).find("BLUECL_TEST_PARSE: 'abc'"),
            std::string::npos);
  ::unsetenv("BLUECL_TEST_PARSE");
  EXPECT_FALSE(env_bytes("BLUECL_TEST_PARSE", 1, 2).has_value());
}

TEST(Parse, ByteCountsForPeople) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(48 << 10), "48 KiB");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(uint64_t{7} << 19), "3.5 MiB");
  EXPECT_EQ(format_bytes(uint64_t{3} << 30), "3 GiB");
}

}  // namespace
}  // namespace bluecl
