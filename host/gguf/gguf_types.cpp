// Names and sizes of GGUF value types and ggml tensor types. The ggml table lists every type id that
// ggml defines (block sizes as in ggml's block structs), so the reader can bounds-check tensors of types
// bluecl does not load and name them in errors; ids ggml never used or has removed are unknown.
#include "graph/base/error.h"
#include "host/gguf/gguf_internal.h"

#include <fmt/format.h>

#include <array>

namespace bluecl {

namespace {

constexpr int kQkK = 256;  // ggml's super-block size for the k-quants and i-quants

// Indexed by ggml type id; an empty name marks an id that is not (or no longer) a type.
constexpr std::array<GgmlTypeInfo, 36> kGgmlTypes = {{
    {"f32", 1, 4},                 // 0
    {"f16", 1, 2},                 // 1
    {"q4_0", 32, 2 + 16},          // 2: fp16 d, 32 nibbles
    {"q4_1", 32, 2 + 2 + 16},      // 3: fp16 d, m
    {"", 0, 0},                    // 4: q4_2, removed
    {"", 0, 0},                    // 5: q4_3, removed
    {"q5_0", 32, 2 + 4 + 16},      // 6: fp16 d, high bits, nibbles
    {"q5_1", 32, 2 + 2 + 4 + 16},  // 7
    {"q8_0", 32, 2 + 32},          // 8
    {"q8_1", 32, 2 + 2 + 32},      // 9
    {"q2_K", kQkK, 84},            // 10: 16 scales + 64 quants + d + dmin
    {"q3_K", kQkK, 110},           // 11: 32 hmask + 64 quants + 12 scales + d
    {"q4_K", kQkK, 144},           // 12: d + dmin + 12 scales + 128 quants
    {"q5_K", kQkK, 176},           // 13: d + dmin + 12 scales + 32 high bits + 128 quants
    {"q6_K", kQkK, 210},           // 14: 128 low + 64 high + 16 scales + d
    {"q8_K", kQkK, 292},           // 15: f32 d + 256 quants + 16 i16 sums
    {"iq2_xxs", kQkK, 66},         // 16
    {"iq2_xs", kQkK, 74},          // 17
    {"iq3_xxs", kQkK, 98},         // 18
    {"iq1_s", kQkK, 50},           // 19
    {"iq4_nl", 32, 18},            // 20
    {"iq3_s", kQkK, 110},          // 21
    {"iq2_s", kQkK, 82},           // 22
    {"iq4_xs", kQkK, 136},         // 23
    {"i8", 1, 1},                  // 24
    {"i16", 1, 2},                 // 25
    {"i32", 1, 4},                 // 26
    {"i64", 1, 8},                 // 27
    {"f64", 1, 8},                 // 28
    {"iq1_m", kQkK, 56},           // 29
    {"bf16", 1, 2},                // 30
    {"", 0, 0},                    // 31: q4_0_4_4, removed (repacked at load time now)
    {"", 0, 0},                    // 32: q4_0_4_8, removed
    {"", 0, 0},                    // 33: q4_0_8_8, removed
    {"tq1_0", kQkK, 54},           // 34: 48 + 4 packed trits + d
    {"tq2_0", kQkK, 66},           // 35: 64 quants + d
}};

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t ggml_type) {
  if (ggml_type >= kGgmlTypes.size() || kGgmlTypes[ggml_type].block == 0) return nullptr;
  return &kGgmlTypes[ggml_type];
}

std::string ggml_type_name(uint32_t ggml_type) {
  const GgmlTypeInfo* info = ggml_type_info(ggml_type);
  return info ? std::string(info->name) : fmt::format("type {}", ggml_type);
}

std::optional<DType> dtype_from_ggml(uint32_t ggml_type) {
  switch (ggml_type) {
    case kGgmlF32:
      return DType::F32;
    case kGgmlF16:
      return DType::F16;
    case kGgmlQ4_0:
      return DType::Q4_0;
    case kGgmlQ8_0:
      return DType::Q8_0;
    case 26:
      return DType::I32;  // so that every DType the writer stores reads back
    default:
      return std::nullopt;
  }
}

uint32_t ggml_from_dtype(DType t) {
  switch (t) {
    case DType::F32:
      return kGgmlF32;
    case DType::F16:
      return kGgmlF16;
    case DType::Q8_0:
      return kGgmlQ8_0;
    case DType::Q4_0:
      return kGgmlQ4_0;
    case DType::I32:
      return 26;
  }
  BLUECL_ASSERT(false, "dtype {} has no ggml type", static_cast<int>(t));
}

std::string_view gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8:
      return "u8";
    case GgufType::I8:
      return "i8";
    case GgufType::U16:
      return "u16";
    case GgufType::I16:
      return "i16";
    case GgufType::U32:
      return "u32";
    case GgufType::I32:
      return "i32";
    case GgufType::F32:
      return "f32";
    case GgufType::Bool:
      return "bool";
    case GgufType::String:
      return "string";
    case GgufType::Array:
      return "array";
    case GgufType::U64:
      return "u64";
    case GgufType::I64:
      return "i64";
    case GgufType::F64:
      return "f64";
  }
  return "unknown";
}

size_t gguf_scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::Bool:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
      return 8;
    case GgufType::String:
    case GgufType::Array:
      return 0;
  }
  return 0;
}

}  // namespace bluecl
