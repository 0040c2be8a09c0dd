// JSON parsing and writing for host/util/json.h: a recursive-descent parser over the text (depth-limited, so
// hostile input cannot exhaust the stack) that reports errors by line and column, and a writer.
#include "host/util/json.h"

#include "graph/base/error.h"
#include "graph/base/utf8.h"

#include <charconv>
#include <cmath>

namespace bluecl {

namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Json document() {
    skip_ws();
    Json v = value(0);
    skip_ws();
    if (i_ != s_.size()) error("unexpected text after the value");
    return v;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;

  template <typename... Args>
  [[noreturn]] void error(fmt::format_string<Args...> f, Args&&... args) const {
    size_t line = 1, line_start = 0;
    for (size_t k = 0; k < i_ && k < s_.size(); ++k) {
      if (s_[k] == '\n') ++line, line_start = k + 1;
    }
    fail(Status::BadFile, "JSON: line {}, column {}: {}", line, i_ - line_start + 1,
         fmt::format(f, std::forward<Args>(args)...));
  }

  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }

  void skip_ws() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  void expect(char c) {
    if (peek() != c || at_end()) error("expected '{}'{}", c, at_end() ? " before the end of the text" : "");
    ++i_;
  }

  Json value(int depth) {
    if (at_end()) error("unexpected end of the text, expected a value");
    switch (s_[i_]) {
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case '"':
        return Json(string());
      case 't':
        literal("true");
        return Json(true);
      case 'f':
        literal("false");
        return Json(false);
      case 'n':
        literal("null");
        return Json();
      default:
        break;
    }
    if (s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9')) return Json(number());
    error("unexpected character '{}'", printable(s_[i_]));
  }

  static std::string printable(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f ? std::string(1, c) : fmt::format("\\x{:02x}", u);
  }

  void literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) error("invalid literal (expected '{}')", word);
    i_ += word.size();
  }

  void check_depth(int depth) const {
    if (depth > kJsonMaxDepth) error("nesting deeper than {} levels", kJsonMaxDepth);
  }

  Json array(int depth) {
    check_depth(depth);
    ++i_;  // '['
    Json::Array a;
    skip_ws();
    if (peek() == ']') {
      ++i_;
      return Json(std::move(a));
    }
    for (;;) {
      skip_ws();
      a.push_back(value(depth));
      skip_ws();
      if (peek() == ']') break;
      if (peek() != ',') error("expected ',' or ']' in an array");
      ++i_;
    }
    ++i_;
    return Json(std::move(a));
  }

  Json object(int depth) {
    check_depth(depth);
    ++i_;  // '{'
    Json::Object o;
    skip_ws();
    if (peek() == '}') {
      ++i_;
      return Json(std::move(o));
    }
    for (;;) {
      skip_ws();
      if (peek() != '"') error("expected a string key in an object");
      const size_t key_at = i_;
      std::string key = string();
      for (const auto& [k, v] : o) {
        if (k == key) {
          i_ = key_at;
          error("duplicate key \"{}\"", key);
        }
      }
      skip_ws();
      expect(':');
      skip_ws();
      Json v = value(depth);
      o.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (peek() == '}') break;
      if (peek() != ',') error("expected ',' or '}}' in an object");
      ++i_;
    }
    ++i_;
    return Json(std::move(o));
  }

  uint32_t hex4() {
    if (s_.size() - i_ < 4) error("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        --i_, error("invalid hex digit '{}' in a \\u escape", printable(c));
    }
    return v;
  }

  std::string string() {
    ++i_;  // opening quote
    std::string out;
    for (;;) {
      const size_t run = i_;  // copy plain characters in one go
      while (!at_end() && s_[i_] != '"' && s_[i_] != '\\' && static_cast<unsigned char>(s_[i_]) >= 0x20) ++i_;
      out.append(s_.substr(run, i_ - run));
      if (at_end()) error("unterminated string");
      const char c = s_[i_];
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c != '\\') error("control character {} in a string (escape it)", printable(c));
      ++i_;
      if (at_end()) error("unterminated string");
      const char e = s_[i_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u':
          out_codepoint(out);
          break;
        default:
          --i_, error("invalid escape '\\{}'", printable(e));
      }
    }
  }

  void out_codepoint(std::string& out) {
    uint32_t cp = hex4();
    if (cp >= 0xdc00 && cp <= 0xdfff) error("unpaired low surrogate \\u{:04x}", cp);
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (s_.substr(i_, 2) != "\\u") error("high surrogate \\u{:04x} not followed by a low surrogate", cp);
      i_ += 2;
      const uint32_t lo = hex4();
      if (lo < 0xdc00 || lo > 0xdfff) error("high surrogate \\u{:04x} followed by \\u{:04x}", cp, lo);
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    append_utf8(out, cp);
  }

  double number() {
    const size_t start = i_;
    auto digits = [&] {
      const size_t from = i_;
      while (!at_end() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ - from;
    };
    if (peek() == '-') ++i_;
    if (peek() == '0') {
      ++i_;
    } else if (digits() == 0) {
      error("invalid number");
    }
    if (peek() == '.') {
      ++i_;
      if (digits() == 0) error("expected digits after the decimal point");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (digits() == 0) error("expected digits in the exponent");
    }
    double v = 0;
    const auto [end, ec] = std::from_chars(s_.data() + start, s_.data() + i_, v);
    if (ec != std::errc() || end != s_.data() + i_) {
      const std::string_view text = s_.substr(start, i_ - start);
      i_ = start;
      error("number {} is out of range", text);
    }
    return v;
  }
};

void write_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  out += '"';
}

void write_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
  } else if (d == std::trunc(d) && std::fabs(d) <= 9007199254740992.0) {  // 2^53: exact integers
    out += fmt::format("{}", static_cast<int64_t>(d));
  } else {
    out += fmt::format("{}", d);  // shortest form that reads back exactly
  }
}

void write_value(std::string& out, const Json& v, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * lvl), ' ');
  };
  switch (v.kind()) {
    case Json::Kind::Null:
      out += "null";
      return;
    case Json::Kind::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Json::Kind::Number:
      write_number(out, v.as_number());
      return;
    case Json::Kind::String:
      write_string(out, v.as_string());
      return;
    case Json::Kind::Array: {
      const Json::Array& a = v.as_array();
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        write_value(out, a[i], indent, level + 1);
      }
      if (!a.empty()) newline(level);
      out += ']';
      return;
    }
    case Json::Kind::Object: {
      const Json::Object& o = v.as_object();
      out += '{';
      for (size_t i = 0; i < o.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        write_string(out, o[i].first);
        out += indent < 0 ? ":" : ": ";
        write_value(out, o[i].second, indent, level + 1);
      }
      if (!o.empty()) newline(level);
      out += '}';
      return;
    }
  }
}

}  // namespace

std::string_view json_kind_name(Json::Kind k) {
  switch (k) {
    case Json::Kind::Null:
      return "null";
    case Json::Kind::Bool:
      return "a bool";
    case Json::Kind::Number:
      return "a number";
    case Json::Kind::String:
      return "a string";
    case Json::Kind::Array:
      return "an array";
    case Json::Kind::Object:
      return "an object";
  }
  return "?";
}

void Json::wrong_kind(Kind want) const {
  fail(Status::BadFile, "JSON: expected {}, got {}", json_kind_name(want), json_kind_name(kind()));
}

int64_t Json::as_int() const {
  const double d = as_number();
  // 2^63 is exactly representable; anything >= it does not fit.
  if (d != std::trunc(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
    fail(Status::BadFile, "JSON: {} is not an integer that fits int64", d);
  }
  return static_cast<int64_t>(d);
}

size_t Json::size() const {
  if (is_array()) return std::get<Array>(v_).size();
  if (is_object()) return std::get<Object>(v_).size();
  fail(Status::BadFile, "JSON: size of {}, expected an array or an object", json_kind_name(kind()));
}

const Json& Json::at(size_t i) const {
  const Array& a = as_array();
  if (i >= a.size()) fail(Status::BadFile, "JSON: index {} past the end of an array of {}", i, a.size());
  return a[i];
}

const Json* Json::find(std::string_view key) const {
  for (const auto& [k, v] : as_object()) {
    if (k == key) return &v;
  }
  return nullptr;
}

const Json& Json::at(std::string_view key) const {
  const Json* v = find(key);
  if (!v) fail(Status::BadFile, "JSON: missing key \"{}\"", key);
  return *v;
}

Json& Json::set(std::string key, Json value) {
  if (is_null()) v_ = Object{};
  for (auto& [k, v] : as_object()) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  std::get<Object>(v_).emplace_back(std::move(key), std::move(value));
  return *this;
}

Json& Json::push_back(Json value) {
  if (is_null()) v_ = Array{};
  as_array().push_back(std::move(value));
  return *this;
}

bool Json::operator==(const Json& o) const {
  return v_ == o.v_;
}

Json parse_json(std::string_view text) {
  return Parser(text).document();
}

std::string to_json(const Json& value, int indent) {
  std::string out;
  write_value(out, value, indent, 0);
  return out;
}

}  // namespace bluecl
