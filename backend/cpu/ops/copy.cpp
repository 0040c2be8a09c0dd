// y = x converted row by row to y's dtype (through fp32 when neither side is F32). The fast path converts
// F32 <-> F16 with F16C (round to nearest even, like fp32_to_fp16; only NaN payloads may differ).
#include "backend/cpu/ops/ops.h"
#include "backend/cpu/quant_act.h"

#include <cstring>
#include <vector>

namespace bluecl::cpu {

namespace {
#ifdef BLUECL_CPU_AVX2
void f32_to_f16(const float* s, uint16_t* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) d[i] = fp32_to_fp16(s[i]);
}
void f16_to_f32(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  for (; i < n; ++i) d[i] = fp16_to_fp32(s[i]);
}
#endif
}  // namespace

void convert_rows(ThreadPool& pool, DType st, const void* src, DType dt, void* dst, int64_t rows, int64_t n,
                  bool fast) {
  const size_t s_row = dtype_bytes(st, n), d_row = dtype_bytes(dt, n);
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  if (st == dt) {
    std::memcpy(d, s, s_row * rows);
    return;
  }
#ifdef BLUECL_CPU_AVX2
  if (fast && ((st == DType::F32 && dt == DType::F16) || (st == DType::F16 && dt == DType::F32))) {
    pool.parallel_for(
        rows * n,
        [&](int64_t i0, int64_t i1, int) {
          if (st == DType::F32)
            f32_to_f16(reinterpret_cast<const float*>(s) + i0, reinterpret_cast<uint16_t*>(d) + i0, i1 - i0);
          else
            f16_to_f32(reinterpret_cast<const uint16_t*>(s) + i0, reinterpret_cast<float*>(d) + i0, i1 - i0);
        },
        kMinParallelElems);
    return;
  }
#endif
  pool.parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int) {
        std::vector<float> tmp(st == DType::F32 ? 0 : n);
        for (int64_t r = r0; r < r1; ++r) {
          const float* f = reinterpret_cast<const float*>(s + r * s_row);
          if (st != DType::F32) {
            dequantize_row(st, s + r * s_row, tmp.data(), n);
            f = tmp.data();
          }
          quantize_row(dt, f, d + r * d_row, n);
        }
      },
      rows_grain(n));
}

void copy(const OpArgs& a) {
  const TensorInfo& xi = a.in(0);
  convert_rows(a.pool, xi.dtype, a.src[0], a.out().dtype, a.dst, xi.shape.rows(), xi.shape.last(), a.fast);
}

}  // namespace bluecl::cpu
