#include "graph/dtype.h"

#include "graph/base/error.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace bluecl {

const DTypeInfo& dtype_info(DType t) {
  static constexpr DTypeInfo infos[kNumDTypes] = {
      {"f32", 1, 4, false},
      {"f16", 1, 2, false},
      {"q8_0", kQK, sizeof(BlockQ8_0), true},
      {"q4_0", kQK, sizeof(BlockQ4_0), true},
      {"i32", 1, 4, false},
  };
  auto i = static_cast<size_t>(t);
  BLUECL_ASSERT(i < kNumDTypes, "bad dtype {}", i);
  return infos[i];
}

size_t dtype_bytes(DType t, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  BLUECL_ASSERT(n >= 0 && n % info.block == 0, "{} elements of {} (block {})", n, info.name, info.block);
  return static_cast<size_t>(n / info.block) * info.block_bytes;
}

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

uint16_t fp32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or nan (keep nan quiet)
    return sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0);
  }
  if (abs >= 0x477ff000u) return sign | 0x7c00;  // rounds to >= 65520: overflow to inf
  if (abs < 0x38800000u) {                       // below the smallest normal half: subnormal or zero
    if (abs < 0x33000000u) return sign;          // < 2^-25 rounds to zero
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;  // 14 + (113 - e)
    uint32_t h = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) ++h;
    return sign | static_cast<uint16_t>(h);
  }
  uint32_t h = ((abs >> 13) - ((127 - 15) << 10));
  const uint32_t rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return sign | static_cast<uint16_t>(h);
}

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::F16: {
      auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(s[i]);
      return;
    }
    case DType::Q8_0: {
      auto* b = static_cast<const BlockQ8_0*>(src);
      for (int64_t ib = 0; ib < n / kQK; ++ib) {
        const float d = fp16_to_fp32(b[ib].d);
        for (int j = 0; j < kQK; ++j) dst[ib * kQK + j] = d * b[ib].qs[j];
      }
      return;
    }
    case DType::Q4_0: {
      auto* b = static_cast<const BlockQ4_0*>(src);
      for (int64_t ib = 0; ib < n / kQK; ++ib) {
        const float d = fp16_to_fp32(b[ib].d);
        for (int j = 0; j < kQK / 2; ++j) {
          dst[ib * kQK + j] = d * ((b[ib].qs[j] & 0x0f) - 8);
          dst[ib * kQK + j + kQK / 2] = d * ((b[ib].qs[j] >> 4) - 8);
        }
      }
      return;
    }
    case DType::I32:
      break;
  }
  fail(Status::Unsupported, "cannot dequantize {}", dtype_name(t));
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::F16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
      return;
    }
    case DType::Q8_0: {
      auto* b = static_cast<BlockQ8_0*>(dst);
      for (int64_t ib = 0; ib < n / kQK; ++ib) {
        const float* x = src + ib * kQK;
        float amax = 0.0f;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[ib].d = fp32_to_fp16(d);
        for (int j = 0; j < kQK; ++j) b[ib].qs[j] = static_cast<int8_t>(std::lround(x[j] * id));
      }
      return;
    }
    case DType::Q4_0: {
      auto* b = static_cast<BlockQ4_0*>(dst);
      for (int64_t ib = 0; ib < n / kQK; ++ib) {
        const float* x = src + ib * kQK;
        float amax = 0.0f, max = 0.0f;  // the signed value of largest magnitude maps to -8
        for (int j = 0; j < kQK; ++j) {
          if (std::fabs(x[j]) > amax) {
            amax = std::fabs(x[j]);
            max = x[j];
          }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[ib].d = fp32_to_fp16(d);
        for (int j = 0; j < kQK / 2; ++j) {
          const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
          const int q1 = std::min(15, static_cast<int>(x[j + kQK / 2] * id + 8.5f));
          b[ib].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
      }
      return;
    }
    case DType::I32:
      break;
  }
  fail(Status::Unsupported, "cannot quantize to {}", dtype_name(t));
}

}  // namespace bluecl
