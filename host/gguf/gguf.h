// GGUF (version 3) reading and writing. The reader memory-maps the file and checks every field against
// the file's bounds before using it: a truncated, corrupt or hostile file throws Error(BadFile) naming
// the problem and where it is, never crashes and never allocates more than the file could hold.
//
// Layout: magic "GGUF", version (u32), tensor count (u64), metadata count (u64), metadata key/value
// pairs, tensor infos (name, n_dims, dims fastest-varying first, ggml type, offset), padding to
// general.alignment (default 32), tensor data (each offset relative to the data section, aligned).
#pragma once

#include "graph/dtype.h"
#include "graph/graph.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bluecl {

enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
std::string_view gguf_type_name(GgufType t);

// ggml's tensor type ids that bluecl reads (the rest are named in errors but not loaded).
inline constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ8_0 = 8;
std::string ggml_type_name(uint32_t ggml_type);  // "q4_K", or "type 99" if unknown
std::optional<DType> dtype_from_ggml(uint32_t ggml_type);
uint32_t ggml_from_dtype(DType t);

struct GgufKv;  // a metadata value as encoded in the file; private to the reader (host/gguf/gguf_internal.h)

struct GgufTensor {
  std::string name;
  uint32_t ggml_type = 0;
  std::optional<DType> dtype;  // nullopt: a ggml type bluecl does not load
  Shape shape;                 // outermost first: GGUF dims [in, out] become Shape{out, in}
  uint64_t offset = 0;         // into the data section
  size_t bytes = 0;
  const void* data = nullptr;  // into the mapping
};

class GgufFile {
 public:
  // Maps and validates the whole header (metadata and tensor infos, bounds of every tensor's data).
  static std::unique_ptr<GgufFile> open(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t file_size() const { return size_; }
  size_t alignment() const { return alignment_; }

  // --- metadata ---
  bool has(std::string_view key) const;
  std::optional<GgufType> type(std::string_view key) const;
  std::optional<GgufType> array_type(std::string_view key) const;  // element type of an array
  std::vector<std::string> keys() const;

  // Typed getters: nullopt when the key is absent; Error(BadFile) naming the key when present with a
  // type that does not fit (an integer getter accepts any integer type whose value fits int64; a float
  // getter accepts F32/F64).
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;
  std::optional<std::vector<float>> get_float_array(std::string_view key) const;
  std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;

  // Same, but a missing key throws Error(BadFile) naming it.
  std::string require_string(std::string_view key) const;
  int64_t require_int(std::string_view key) const;
  double require_float(std::string_view key) const;

  // --- tensors ---
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;
  // Throws BadFile if absent or not of `shape` (when given), Unsupported if its type is not loadable.
  const GgufTensor& require_tensor(std::string_view name, std::optional<Shape> shape = std::nullopt) const;

  // Tells the OS that the pages of [data, data + bytes) will not be read again (after a weight has
  // been copied to a device), so they stop counting as resident memory.
  void release_pages(const void* data, size_t bytes) const;

 private:
  GgufFile() = default;
  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  std::vector<GgufKv> kvs_;
  std::vector<GgufTensor> tensors_;
  // Name -> index; the views point into the mapping, which outlives them.
  std::unordered_map<std::string_view, size_t> kv_index_, tensor_index_;
  const GgufKv* find_kv(std::string_view key) const;
  friend class GgufParser;
  friend class GgufWriter;  // copy_kv copies a value's encoded bytes
};

// Writes a GGUF v3 file: metadata and tensors are collected, then written in one pass (to a temporary
// file, then renamed). Used by the model generator and by the tests that build broken files.
class GgufWriter {
 public:
  void set_string(std::string key, std::string value);
  void set_u32(std::string key, uint32_t value);
  void set_i32(std::string key, int32_t value);
  void set_u64(std::string key, uint64_t value);
  void set_f32(std::string key, float value);
  void set_bool(std::string key, bool value);
  void set_string_array(std::string key, std::vector<std::string> values);
  void set_f32_array(std::string key, std::vector<float> values);
  void set_i32_array(std::string key, std::vector<int32_t> values);
  // Copies the value of `key` from another file (any type, arrays included).
  void copy_kv(const GgufFile& from, std::string_view key);

  // `shape` outermost first; `data` holds dtype_bytes(dtype, shape.numel()) bytes and is copied.
  void add_tensor(std::string name, DType dtype, Shape shape, const void* data);
  // Same, but the bytes are produced while writing (so a multi-gigabyte model never sits in memory):
  // `fill(dst)` writes the tensor's dtype_bytes(dtype, shape.numel()) bytes.
  void add_tensor(std::string name, DType dtype, Shape shape, std::function<void(uint8_t* dst)> fill);

  void write(const std::string& path) const;  // throws Error(Io) on failure

 private:
  struct Entry;
  std::vector<std::shared_ptr<Entry>> kvs_;
  struct TensorEntry {
    std::string name;
    DType dtype;
    Shape shape;
    std::vector<uint8_t> data;
    std::function<void(uint8_t*)> fill;
  };
  std::vector<TensorEntry> tensors_;
  void set(std::string key, GgufType type, std::vector<uint8_t> value);  // value as encoded in the file
  void check_tensor(const std::string& name, DType dtype, const Shape& shape) const;
};

}  // namespace bluecl
