// Internals shared by the GGUF reader and writer (not part of the public API): ggml's tensor type table
// and the raw form of a metadata value. A value is kept exactly as encoded in the file (for an array:
// element type, u64 count, elements; for a string: u64 length, bytes), so that a reader can decode it
// lazily and a writer can copy it without knowing its type. All integers are little-endian.
#pragma once

#include "host/gguf/gguf.h"

#include <bit>
#include <cstring>

namespace bluecl {

static_assert(std::endian::native == std::endian::little,
              "GGUF is read and written in place: little-endian hosts only");

struct GgmlTypeInfo {
  std::string_view name;
  int block;        // elements per block (1 for plain types)
  int block_bytes;  // bytes per block
};
// nullptr for ids that ggml does not define (or has removed).
const GgmlTypeInfo* ggml_type_info(uint32_t ggml_type);

inline constexpr uint32_t kGgufNumTypes = 13;
inline constexpr int kGgufMaxArrayDepth = 4;  // arrays of arrays of ... ; ggml allows any depth
inline constexpr uint32_t kGgufVersion = 3;
inline constexpr size_t kGgufDefaultAlignment = 32;

// Bytes of one scalar of type t; 0 for String and Array.
size_t gguf_scalar_size(GgufType t);
inline bool gguf_is_integer(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::U16:
    case GgufType::I16:
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::U64:
    case GgufType::I64:
      return true;
    default:
      return false;
  }
}

// Names from a hostile file may hold anything: escaped (and shortened) before going into a message.
std::string printable_name(std::string_view s);

template <typename T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

struct GgufKv {
  std::string_view key;  // into the mapping
  GgufType type = GgufType::U8;
  GgufType elem_type = GgufType::U8;  // arrays only
  uint64_t count = 0;                 // arrays only
  const uint8_t* value = nullptr;     // the encoded value, into the mapping (after the type tag)
  size_t value_bytes = 0;
};

}  // namespace bluecl
