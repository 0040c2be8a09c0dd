// JSON: the golden token and grid files parse into the values they hold, values round trip through the
// writer (compact and indented), escapes and surrogate pairs decode, and malformed text throws
// Error(BadFile) with the line and column of the problem.
#include "graph/base/error.h"
#include "host/util/json.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <cmath>

namespace bluecl {
namespace {

using testing::data_path;
using testing::read_text;

void expect_parse_error(std::string_view text, const std::string& phrase) {
  try {
    parse_json(text);
    ADD_FAILURE() << "parsed: " << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::BadFile);
    EXPECT_NE(std::string(e.what()).find(phrase), std::string::npos)
        << "input: " << text << "\nmessage: " << e.what();
  }
}

TEST(Json, ParsesGoldenTokens) {
  for (const char* name : {"golden/tiny-a-q4_0.tokens.json", "golden/tiny-c-bluelm-q4_0.tokens.json"}) {
    const Json doc = parse_json(read_text(data_path(name)));
    ASSERT_TRUE(doc.is_object()) << name;
    EXPECT_EQ(doc.at("n_vocab").as_int(), 2048);
    const Json& prompt = doc.at("prompt_tokens");
    ASSERT_GT(prompt.size(), 10u);
    EXPECT_EQ(prompt[0].as_int(), 1);  // BOS
    for (const Json& t : prompt.as_array()) {
      EXPECT_GE(t.as_int(), 0);
      EXPECT_LT(t.as_int(), 2048);
    }
    EXPECT_GT(doc.at("generated_tokens").size(), 0u);
  }
  const Json doc = parse_json(read_text(data_path("golden/tiny-a-q4_0.tokens.json")));
  const std::vector<int64_t> head = {1, 450, 439, 860, 289};  // "The quick ..." as in the file
  for (size_t i = 0; i < head.size(); ++i) EXPECT_EQ(doc.at("prompt_tokens").at(i).as_int(), head[i]);
}

TEST(Json, ParsesGrids) {
  const Json doc = parse_json(read_text(data_path("golden/grids.json")));
  EXPECT_EQ(doc.at("alpha").as_number(), 0.1);
  EXPECT_EQ(doc.at("tile").as_int(), 384);
  EXPECT_EQ(doc.at("grid_is").as_string(), "[columns m, rows n]");
  const Json& cases = doc.at("cases");
  ASSERT_EQ(cases.size(), 60u);
  for (const Json& c : cases.as_array()) {
    EXPECT_GT(c.at("width").as_int(), 0);
    EXPECT_GT(c.at("height").as_int(), 0);
    const Json& g = c.at("grid");
    ASSERT_EQ(g.size(), 2u);
    EXPECT_LE(g[0].as_int() * g[1].as_int(), doc.at("max_tiles").as_int());
  }
  EXPECT_EQ(cases[0].at("width").as_int(), 394);
  EXPECT_EQ(cases[0].at("llava_next_grid")[0].as_int(), 2);
  // Key order is kept.
  EXPECT_EQ(doc.as_object().front().first, "alpha");
  EXPECT_EQ(cases[0].as_object()[2].first, "grid");
}

TEST(Json, RoundTrips) {
  for (const char* name : {"golden/grids.json", "golden/mm-tiny-a-v.json", "golden/tiny-v-f32.json"}) {
    const Json doc = parse_json(read_text(data_path(name)));
    EXPECT_EQ(parse_json(to_json(doc)), doc) << name;
    EXPECT_EQ(parse_json(to_json(doc, 2)), doc) << name;
    EXPECT_EQ(to_json(parse_json(to_json(doc))), to_json(doc)) << name;
  }
  Json v = Json::object();
  v.set("null", nullptr).set("t", true).set("f", false).set("int", -42).set("big", int64_t{1} << 53);
  v.set("pi", 3.141592653589793).set("tiny", 1e-300).set("huge", 1.7976931348623157e308);
  v.set("s", "quote \" backslash \\ newline \n tab \t ctl \x01 ünï 😀");
  v.set("arr",
        Json::array().push_back(1).push_back("two").push_back(Json::object()).push_back(Json::array()));
  v.set("int", 7);  // replaces in place
  const std::string compact = to_json(v);
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  EXPECT_NE(compact.find("\"int\":7,\"big\":9007199254740992,"), std::string::npos) << compact;
  EXPECT_NE(compact.find("\\u0001"), std::string::npos);
  EXPECT_EQ(parse_json(compact), v);
  EXPECT_EQ(parse_json(to_json(v, 4)), v);
  EXPECT_EQ(to_json(parse_json("[1, {\"a\": []}]"), 2), "[\n  1,\n  {\n    \"a\": []\n  }\n]");
  EXPECT_EQ(to_json(Json(0.1)), "0.1");
  EXPECT_EQ(to_json(Json(-2.5e-7)), "-2.5e-07");
  EXPECT_EQ(to_json(Json(std::nan(""))), "null");
  EXPECT_EQ(to_json(Json(1e20)), "1e+20");
  EXPECT_EQ(parse_json("1e20").as_number(), 1e20);
}

TEST(Json, DecodesEscapes) {
  EXPECT_EQ(parse_json(R"("a\"b\\c\/d\b\f\n\r\t")").as_string(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(parse_json(R"("\u0041\u00e9\u20AC")").as_string(), "A\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(parse_json(R"("\ud83d\ude00")").as_string(),
            "\xf0\x9f\x98\x80");  // U+1F600 from a surrogate pair
  EXPECT_EQ(parse_json(R"("\u0000")").as_string(), std::string(1, '\0'));
  EXPECT_EQ(parse_json("\"raw ünï\"").as_string(), "raw ünï");
  EXPECT_EQ(parse_json(" \r\n\t[ ]\n ").size(), 0u);
  EXPECT_EQ(parse_json("-0.5e+2").as_number(), -50.0);
  EXPECT_EQ(parse_json("0").as_int(), 0);
}

TEST(Json, AccessorsCheckKinds) {
  const Json doc = parse_json(R"({"n": 1.5, "s": "x", "a": [1], "big": 1e19})");
  auto expect = [](auto&& f, const std::string& phrase) {
    try {
      f();
      ADD_FAILURE() << "no error, expected " << phrase;
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::BadFile);
      EXPECT_NE(std::string(e.what()).find(phrase), std::string::npos) << e.what();
    }
  };
  expect([&] { doc.at("n").as_int(); }, "1.5 is not an integer");
  expect([&] { doc.at("big").as_int(); }, "not an integer that fits int64");
  expect([&] { doc.at("s").as_number(); }, "expected a number, got a string");
  expect([&] { doc.at("a").as_object(); }, "expected an object, got an array");
  expect([&] { doc.at("missing"); }, "missing key \"missing\"");
  expect([&] { doc.at("a").at(1); }, "index 1 past the end of an array of 1");
  expect([&] { doc.at("s").size(); }, "expected an array or an object");
  expect([&] { doc.at("a").find("k"); }, "expected an object");
  EXPECT_EQ(doc.find("zzz"), nullptr);
  EXPECT_TRUE(doc.contains("s"));
  EXPECT_EQ(doc.size(), 4u);
}

TEST(Json, RejectsMalformedText) {
  expect_parse_error("", "line 1, column 1: unexpected end");
  expect_parse_error("{\n  \"a\": 1,\n  \"b\" 2\n}", "line 3, column 7: expected ':'");
  expect_parse_error("[1, 2,]", "line 1, column 7: unexpected character ']'");
  expect_parse_error("{\"a\": 1,}", "expected a string key");
  expect_parse_error("[1 2]", "expected ',' or ']'");
  expect_parse_error("{\"a\" : 1 \"b\": 2}", "expected ',' or '}'");
  expect_parse_error("[1] x", "column 5: unexpected text after the value");
  expect_parse_error("tru", "invalid literal (expected 'true')");
  expect_parse_error("nul", "invalid literal");
  expect_parse_error("01", "unexpected text after the value");
  expect_parse_error("-", "invalid number");
  expect_parse_error("1.", "expected digits after the decimal point");
  expect_parse_error("1e", "expected digits in the exponent");
  expect_parse_error("+1", "unexpected character '+'");
  expect_parse_error("1e999", "number 1e999 is out of range");
  expect_parse_error("\"abc", "unterminated string");
  expect_parse_error("\"a\nb\"", "control character \\x0a in a string");
  expect_parse_error(R"("\x")", "invalid escape '\\x'");
  expect_parse_error(R"("\u12g4")", "invalid hex digit 'g'");
  expect_parse_error(R"("\u12)", "truncated \\u escape");
  expect_parse_error(R"("\ude00")", "unpaired low surrogate \\ude00");
  expect_parse_error(R"("\ud83d")", "not followed by a low surrogate");
  expect_parse_error(R"("\ud83d\u0041")", "followed by \\u0041");
  expect_parse_error(R"({"a": 1, "a": 2})", "line 1, column 10: duplicate key \"a\"");
  expect_parse_error("{'a': 1}", "expected a string key");
  expect_parse_error("// comment\n1", "unexpected character '/'");
  expect_parse_error("\x01", "unexpected character '\\x01'");
  // Deep nesting is refused, not a stack overflow; the limit itself is fine.
  expect_parse_error(std::string(100000, '['), "nesting deeper than 256 levels");
  const std::string ok = std::string(kJsonMaxDepth, '[') + std::string(kJsonMaxDepth, ']');
  EXPECT_EQ(parse_json(ok).size(), 1u);
  expect_parse_error(std::string(kJsonMaxDepth + 1, '[') + std::string(kJsonMaxDepth + 1, ']'),
                     "nesting deeper");
}

}  // namespace
}  // namespace bluecl
