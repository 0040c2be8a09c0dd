// GgufWriter: collects metadata and tensors, then writes a GGUF v3 file in one pass to a temporary and
// renames it (graph/base/atomic_file.h), so a reader never sees a half-written model. Each metadata value
// is held in its encoded form (exactly the bytes that follow the type tag in the file), which lets copy_kv
// copy a value of any type, nested arrays included, from a GgufFile without decoding it. Tensor data is
// padded to general.alignment (32 unless set), as llama.cpp does.
#include "graph/base/atomic_file.h"
#include "graph/base/error.h"
#include "host/gguf/gguf_internal.h"

#include <cerrno>
#include <cstdio>
#include <system_error>

namespace bluecl {

struct GgufWriter::Entry {
  std::string key;
  GgufType type;
  std::vector<uint8_t> value;
};

namespace {

// resize + memcpy rather than insert: GCC 12 warns falsely (-Wstringop-overflow) about the latter.
void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
  if (n == 0) return;
  const size_t at = out.size();
  out.resize(at + n);
  std::memcpy(out.data() + at, p, n);
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  put_bytes(out, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  put_bytes(out, s.data(), s.size());
}

std::vector<uint8_t> array_header(GgufType elem, size_t count) {
  std::vector<uint8_t> v;
  put<uint32_t>(v, static_cast<uint32_t>(elem));
  put<uint64_t>(v, count);
  return v;
}

template <typename T>
std::vector<uint8_t> scalar(T v) {
  std::vector<uint8_t> out;
  put<T>(out, v);
  return out;
}

template <typename T>
std::vector<uint8_t> plain_array(GgufType elem, const std::vector<T>& values) {
  std::vector<uint8_t> out = array_header(elem, values.size());
  put_bytes(out, values.data(), values.size() * sizeof(T));
  return out;
}

size_t align_up(size_t n, size_t a) {
  return (n + a - 1) / a * a;
}

// Zero bytes from `written` up to the next multiple of `alignment`.
void pad_to(AtomicFile& out, size_t written, size_t alignment) {
  static const uint8_t zeros[256] = {};
  for (size_t n = align_up(written, alignment) - written; n > 0;) {
    const size_t k = std::min(n, sizeof(zeros));
    out.write(zeros, k);
    n -= k;
  }
}

}  // namespace

void GgufWriter::set(std::string key, GgufType type, std::vector<uint8_t> value) {
  for (auto& e : kvs_) {
    if (e->key == key) {  // setting a key again replaces its value in place
      e->type = type;
      e->value = std::move(value);
      return;
    }
  }
  kvs_.push_back(std::make_shared<Entry>(Entry{std::move(key), type, std::move(value)}));
}

void GgufWriter::set_string(std::string key, std::string value) {
  std::vector<uint8_t> v;
  put_string(v, value);
  set(std::move(key), GgufType::String, std::move(v));
}
void GgufWriter::set_u32(std::string key, uint32_t value) {
  set(std::move(key), GgufType::U32, scalar(value));
}
void GgufWriter::set_i32(std::string key, int32_t value) {
  set(std::move(key), GgufType::I32, scalar(value));
}
void GgufWriter::set_u64(std::string key, uint64_t value) {
  set(std::move(key), GgufType::U64, scalar(value));
}
void GgufWriter::set_f32(std::string key, float value) {
  set(std::move(key), GgufType::F32, scalar(value));
}
void GgufWriter::set_bool(std::string key, bool value) {
  set(std::move(key), GgufType::Bool, scalar<uint8_t>(value ? 1 : 0));
}

void GgufWriter::set_string_array(std::string key, std::vector<std::string> values) {
  std::vector<uint8_t> v = array_header(GgufType::String, values.size());
  size_t total = v.size();
  for (const auto& s : values) total += 8 + s.size();
  v.reserve(total);
  for (const auto& s : values) put_string(v, s);
  set(std::move(key), GgufType::Array, std::move(v));
}
void GgufWriter::set_f32_array(std::string key, std::vector<float> values) {
  set(std::move(key), GgufType::Array, plain_array(GgufType::F32, values));
}
void GgufWriter::set_i32_array(std::string key, std::vector<int32_t> values) {
  set(std::move(key), GgufType::Array, plain_array(GgufType::I32, values));
}

void GgufWriter::copy_kv(const GgufFile& from, std::string_view key) {
  const GgufKv* kv = from.find_kv(key);
  if (!kv) fail(Status::BadFile, "{}: cannot copy key '{}': it is missing", from.path(), key);
  set(std::string(key), kv->type, std::vector<uint8_t>(kv->value, kv->value + kv->value_bytes));
}

void GgufWriter::check_tensor(const std::string& name, DType dtype, const Shape& shape) const {
  if (name.empty()) fail(Status::InvalidArgument, "gguf writer: empty tensor name");
  for (const auto& t : tensors_) {
    if (t.name == name) fail(Status::InvalidArgument, "gguf writer: tensor '{}' added twice", name);
  }
  if (shape.rank < 1 || shape.rank > kMaxDims) {
    fail(Status::InvalidArgument, "gguf writer: tensor '{}' has rank {}", name, shape.rank);
  }
  for (int i = 0; i < shape.rank; ++i) {
    if (shape[i] <= 0)
      fail(Status::InvalidArgument, "gguf writer: tensor '{}' has shape {}", name, shape.str());
  }
  const DTypeInfo& info = dtype_info(dtype);
  if (shape.last() % info.block != 0) {
    fail(Status::InvalidArgument, "gguf writer: tensor '{}' {}: rows of {} must be a multiple of {}", name,
         shape.str(), info.name, info.block);
  }
}

void GgufWriter::add_tensor(std::string name, DType dtype, Shape shape, const void* data) {
  check_tensor(name, dtype, shape);
  const size_t bytes = dtype_bytes(dtype, shape.numel());
  const auto* p = static_cast<const uint8_t*>(data);
  tensors_.push_back({std::move(name), dtype, shape, std::vector<uint8_t>(p, p + bytes), nullptr});
}

void GgufWriter::add_tensor(std::string name, DType dtype, Shape shape,
                            std::function<void(uint8_t* dst)> fill) {
  check_tensor(name, dtype, shape);
  BLUECL_ASSERT(fill, "gguf writer: tensor '{}' without a fill function", name);
  tensors_.push_back({std::move(name), dtype, shape, {}, std::move(fill)});
}

void GgufWriter::write(const std::string& path) const {
  size_t alignment = kGgufDefaultAlignment;
  for (const auto& e : kvs_) {
    if (e->key != "general.alignment") continue;
    const uint32_t a = e->type == GgufType::U32 ? load_le<uint32_t>(e->value.data()) : 0;
    if (a == 0 || (a & (a - 1)) != 0) {
      fail(Status::InvalidArgument, "gguf writer: general.alignment must be a u32 power of two");
    }
    alignment = a;
  }

  std::vector<uint8_t> header;
  header.insert(header.end(), {'G', 'G', 'U', 'F'});
  put<uint32_t>(header, kGgufVersion);
  put<uint64_t>(header, tensors_.size());
  put<uint64_t>(header, kvs_.size());
  for (const auto& e : kvs_) {
    put_string(header, e->key);
    put<uint32_t>(header, static_cast<uint32_t>(e->type));
    header.insert(header.end(), e->value.begin(), e->value.end());
  }
  std::vector<size_t> sizes;
  size_t offset = 0;
  for (const auto& t : tensors_) {
    const size_t bytes = dtype_bytes(t.dtype, t.shape.numel());
    sizes.push_back(bytes);
    put_string(header, t.name);
    put<uint32_t>(header, static_cast<uint32_t>(t.shape.rank));
    for (int d = t.shape.rank - 1; d >= 0; --d) put<uint64_t>(header, static_cast<uint64_t>(t.shape[d]));
    put<uint32_t>(header, ggml_from_dtype(t.dtype));
    put<uint64_t>(header, offset);
    offset = align_up(offset + bytes, alignment);
  }

  AtomicFile out(path);  // readers never see a half-written model
  out.write(header.data(), header.size());
  pad_to(out, header.size(), alignment);
  std::vector<uint8_t> buffer;  // one tensor at a time, for the streamed ones
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const TensorEntry& t = tensors_[i];
    const uint8_t* data = t.data.data();
    if (t.fill) {
      buffer.assign(sizes[i], 0);
      t.fill(buffer.data());
      data = buffer.data();
    }
    out.write(data, sizes[i]);
    pad_to(out, sizes[i], alignment);
  }
  out.commit();
}

}  // namespace bluecl
