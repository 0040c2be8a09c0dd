// A small JSON value (null, bool, number as double, string, array, object keeping its key order) with a
// strict parser and a writer. Used for the golden token files, bench --json output and Chrome traces.
//
//   Json doc = parse_json(text);                     // Error(BadFile) "JSON: line 3, column 7: ..."
//   int64_t n = doc.at("n_vocab").as_int();          // Error(BadFile) if absent, not a number or not
//   integral for (const Json& t : doc.at("prompt_tokens").as_array()) ... Json out = Json::object();
//   out.set("name", "matmul").set("gbps", 41.5);
//   std::string s = to_json(out, 2);
//
// Parsing: RFC 8259 (no comments, no trailing commas), \uXXXX escapes with surrogate pairs, nesting
// limited to kJsonMaxDepth, duplicate keys rejected; bytes >= 0x80 inside strings are passed through
// (not validated as UTF-8). Writing: non-finite numbers become null; integral numbers print without a
// fraction, others in the shortest form that reads back exactly.
//
// Why not nlohmann/json (checked against nlohmann-json3-dev 3.11.2): its get<int64_t>() turns 1.5 into 1
// and 1e30 into INT64_MIN without a word, where as_int() rejects both (token ids and sizes come from
// files); it keeps the last of two duplicate keys silently; and its errors are its own exception types,
// which the C API's guard would report as Internal, where every error here is Error(BadFile) naming the
// line and column or the missing key. Wrapping it to get these back would leave most of this file in
// place and add a 25,000-line header to every file that reads JSON. test_json checks each of these.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace bluecl {

inline constexpr int kJsonMaxDepth = 256;

class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;                 // in insertion order
  enum class Kind : uint8_t { Null, Bool, Number, String, Array, Object };  // the order of v_'s types

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  Json(double d) : v_(d) {}
  template <std::integral I>
  requires(!std::same_as<I, bool>) Json(I i) : v_(static_cast<double>(i)) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(std::string_view s) : v_(std::string(s)) {}
  Json(Array a) : v_(std::move(a)) {}
  Json(Object o) : v_(std::move(o)) {}
  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_null() const { return kind() == Kind::Null; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_number() const { return kind() == Kind::Number; }
  bool is_string() const { return kind() == Kind::String; }
  bool is_array() const { return kind() == Kind::Array; }
  bool is_object() const { return kind() == Kind::Object; }

  // Each throws Error(BadFile) naming the expected and the actual kind when the value is of another kind.
  bool as_bool() const { return checked<bool>(Kind::Bool); }
  double as_number() const { return checked<double>(Kind::Number); }
  int64_t as_int() const;  // also checks that the number is integral and fits int64
  const std::string& as_string() const { return checked<std::string>(Kind::String); }
  const Array& as_array() const { return checked<Array>(Kind::Array); }
  Array& as_array() { return const_cast<Array&>(checked<Array>(Kind::Array)); }
  const Object& as_object() const { return checked<Object>(Kind::Object); }
  Object& as_object() { return const_cast<Object&>(checked<Object>(Kind::Object)); }

  size_t size() const;             // elements of an array or members of an object
  const Json& at(size_t i) const;  // array element, range-checked
  const Json& operator[](size_t i) const { return at(i); }
  const Json& at(std::string_view key) const;    // object member; absent -> Error(BadFile)
  const Json* find(std::string_view key) const;  // object member or nullptr
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  // Building: a null value turns into an object (set) or an array (push_back) on first use.
  Json& set(std::string key, Json value);  // replaces an existing member in place; returns *this
  Json& push_back(Json value);             // returns *this

  bool operator==(const Json& o) const;

 private:
  std::variant<std::nullptr_t, bool, double, std::string, Array, Object> v_;
  [[noreturn]] void wrong_kind(Kind want) const;
  template <typename T>
  const T& checked(Kind want) const {
    if (kind() != want) wrong_kind(want);
    return *std::get_if<T>(&v_);
  }
};

std::string_view json_kind_name(Json::Kind k);

Json parse_json(std::string_view text);
// indent < 0: compact, one line; otherwise newlines with `indent` spaces per level.
std::string to_json(const Json& value, int indent = -1);

}  // namespace bluecl
