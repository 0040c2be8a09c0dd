// Element types and the GGUF block formats (Q4_0, Q8_0), with exact conversions to and from float.
//   Q4_0: blocks of 32 weights = fp16 scale d, then 16 bytes; byte j holds weight j (low nibble) and
//         weight j+16 (high nibble); w = d * (q - 8).
//   Q8_0: blocks of 32 = fp16 scale d, then 32 int8; w = d * q.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bluecl {

enum class DType : uint8_t { F32, F16, Q8_0, Q4_0, I32 };
inline constexpr int kNumDTypes = 5;

inline constexpr int kQK = 32;  // weights per quantised block

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ8_0) == 34);

struct DTypeInfo {
  std::string_view name;
  int block;        // elements per block (1 for plain types)
  int block_bytes;  // bytes per block
  bool quantised;
};
const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) {
  return dtype_info(t).name;
}

// Bytes of n elements of type t; n must be a multiple of the block size for quantised types.
size_t dtype_bytes(DType t, int64_t n);

// IEEE half <-> float, round-to-nearest-even, with subnormals, infinities and NaN.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);

// Row conversions. dequantize_row accepts every type but I32; quantize_row writes F32/F16/Q8_0/Q4_0
// the way llama.cpp's reference quantisers do (so files we write read back the same in llama.cpp).
void dequantize_row(DType t, const void* src, float* dst, int64_t n);
void quantize_row(DType t, const float* src, void* dst, int64_t n);

}  // namespace bluecl
