// GgufFile's metadata getters and tensor lookup. Values were bounds-checked when the file was opened and
// stay encoded in the mapping; a getter decodes on demand and throws Error(BadFile) naming the key when
// the stored type does not fit what the caller asked for.
#include "graph/base/error.h"
#include "host/gguf/gguf_internal.h"

#include <limits>

namespace bluecl {

namespace {

using Kv = GgufKv;

std::string type_text(const Kv& kv) {
  if (kv.type != GgufType::Array) return std::string(gguf_type_name(kv.type));
  return fmt::format("array of {} {}", kv.count, gguf_type_name(kv.elem_type));
}

[[noreturn]] void wrong_type(const std::string& path, const Kv& kv, std::string_view wanted) {
  fail(Status::BadFile, "{}: key '{}' has type {}, expected {}", path, printable_name(kv.key), type_text(kv),
       wanted);
}

// Decodes an integer of any GGUF integer type; t must be one.
int64_t decode_int(const std::string& path, const Kv& kv, GgufType t, const uint8_t* p) {
  switch (t) {
    case GgufType::U8:
      return p[0];
    case GgufType::I8:
      return load_le<int8_t>(p);
    case GgufType::U16:
      return load_le<uint16_t>(p);
    case GgufType::I16:
      return load_le<int16_t>(p);
    case GgufType::U32:
      return load_le<uint32_t>(p);
    case GgufType::I32:
      return load_le<int32_t>(p);
    case GgufType::I64:
      return load_le<int64_t>(p);
    case GgufType::U64: {
      const auto v = load_le<uint64_t>(p);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail(Status::BadFile, "{}: key '{}' holds the u64 value {}, which does not fit int64", path,
             printable_name(kv.key), v);
      }
      return static_cast<int64_t>(v);
    }
    default:
      break;
  }
  BLUECL_ASSERT(false, "decode_int on {}", gguf_type_name(t));
}

double decode_float(GgufType t, const uint8_t* p) {
  return t == GgufType::F32 ? static_cast<double>(load_le<float>(p)) : load_le<double>(p);
}

bool is_float(GgufType t) {
  return t == GgufType::F32 || t == GgufType::F64;
}

}  // namespace

const Kv* GgufFile::find_kv(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second];
}

bool GgufFile::has(std::string_view key) const {
  return find_kv(key) != nullptr;
}

std::optional<GgufType> GgufFile::type(std::string_view key) const {
  const Kv* kv = find_kv(key);
  if (!kv) return std::nullopt;
  return kv->type;
}

std::optional<GgufType> GgufFile::array_type(std::string_view key) const {
  const Kv* kv = find_kv(key);
  if (!kv || kv->type != GgufType::Array) return std::nullopt;
  return kv->elem_type;
}

std::vector<std::string> GgufFile::keys() const {
  std::vector<std::string> out;
  out.reserve(kvs_.size());
  for (const Kv& kv : kvs_) out.emplace_back(kv.key);
  return out;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const Kv* kv = find_kv(key);
  if (!kv) return std::nullopt;
  if (kv->type != GgufType::String) wrong_type(path_, *kv, "string");
  return std::string(reinterpret_cast<const char*>(kv->value + 8), kv->value_bytes - 8);
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const Kv* kv = find_kv(key);
  if (!kv) return std::nullopt;
  if (!gguf_is_integer(kv->type)) wrong_type(path_, *kv, "an integer");
  return decode_int(path_, *kv, kv->type, kv->value);
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const Kv* kv = find_kv(key);
  if (!kv) return std::nullopt;
  if (!is_float(kv->type)) wrong_type(path_, *kv, "f32 or f64");
  return decode_float(kv->type, kv->value);
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const Kv* kv = find_kv(key);
  if (!kv) return std::nullopt;
  if (kv->type != GgufType::Bool) wrong_type(path_, *kv, "bool");
  return kv->value[0] != 0;
}

std::optional<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  const Kv* kv = find_kv(key);
  if (!kv) return std::nullopt;
  if (kv->type != GgufType::Array || kv->elem_type != GgufType::String)
    wrong_type(path_, *kv, "array of string");
  std::vector<std::string> out;
  out.reserve(kv->count);
  const uint8_t* p = kv->value + 12;
  const uint8_t* end = kv->value + kv->value_bytes;
  for (uint64_t i = 0; i < kv->count; ++i) {
    // Checked at open; this guards against a reader bug, not against the file.
    BLUECL_ASSERT(end - p >= 8, "string array '{}' overrun", kv->key);
    const auto len = load_le<uint64_t>(p);
    p += 8;
    BLUECL_ASSERT(len <= static_cast<uint64_t>(end - p), "string array '{}' overrun", kv->key);
    out.emplace_back(reinterpret_cast<const char*>(p), len);
    p += len;
  }
  return out;
}

std::optional<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  const Kv* kv = find_kv(key);
  if (!kv) return std::nullopt;
  if (kv->type != GgufType::Array || !is_float(kv->elem_type)) wrong_type(path_, *kv, "array of f32 or f64");
  const size_t step = gguf_scalar_size(kv->elem_type);
  std::vector<float> out(kv->count);
  for (uint64_t i = 0; i < kv->count; ++i) {
    out[i] = static_cast<float>(decode_float(kv->elem_type, kv->value + 12 + i * step));
  }
  return out;
}

std::optional<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const Kv* kv = find_kv(key);
  if (!kv) return std::nullopt;
  if (kv->type != GgufType::Array || !gguf_is_integer(kv->elem_type)) {
    wrong_type(path_, *kv, "array of integers");
  }
  const size_t step = gguf_scalar_size(kv->elem_type);
  std::vector<int64_t> out(kv->count);
  for (uint64_t i = 0; i < kv->count; ++i)
    out[i] = decode_int(path_, *kv, kv->elem_type, kv->value + 12 + i * step);
  return out;
}

std::string GgufFile::require_string(std::string_view key) const {
  auto v = get_string(key);
  if (!v) fail(Status::BadFile, "{}: required key '{}' is missing", path_, key);
  return std::move(*v);
}

int64_t GgufFile::require_int(std::string_view key) const {
  auto v = get_int(key);
  if (!v) fail(Status::BadFile, "{}: required key '{}' is missing", path_, key);
  return *v;
}

double GgufFile::require_float(std::string_view key) const {
  auto v = get_float(key);
  if (!v) fail(Status::BadFile, "{}: required key '{}' is missing", path_, key);
  return *v;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::require_tensor(std::string_view name, std::optional<Shape> shape) const {
  const GgufTensor* t = find_tensor(name);
  if (!t) fail(Status::BadFile, "{}: required tensor '{}' is missing", path_, name);
  if (!t->dtype) {
    std::string supported;
    for (uint32_t id = 0; id < 64; ++id) {
      if (dtype_from_ggml(id))
        supported += fmt::format("{}{}", supported.empty() ? "" : ", ", ggml_type_name(id));
    }
    fail(Status::Unsupported, "{}: tensor '{}' has type {}, which bluecl does not load (supported: {})",
         path_, name, ggml_type_name(t->ggml_type), supported);
  }
  if (shape && t->shape != *shape) {
    fail(Status::BadFile, "{}: tensor '{}' has shape {}, expected {}", path_, name, t->shape.str(),
         shape->str());
  }
  return *t;
}

}  // namespace bluecl
