// Activation rows quantised for the integer dot products of fast_matmul (AVX2 builds only).
//
// A block of 32 floats becomes 32 int8 q = round(x / d), d = max|x| / 127, and S = sum(q). As in
// llama.cpp's Q8_0 activations the scale used afterwards is d rounded to fp16: the same arithmetic as the
// engine the golden references were checked against (and no measurable loss: 2^-11 relative per block).
// The kernels consume blocks in pairs (2p, 2p+1) because one 32-byte load of two Q4_0 blocks' nibbles
// yields, after masking, elements 0..15 of both blocks (low nibbles) and elements 16..31 of both (high
// nibbles); the activations are stored in that order so no shuffle is needed in the inner loop. An odd
// last block is paired with zeros.
#pragma once

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define BLUECL_CPU_AVX2 1
#include <immintrin.h>

#include "backend/cpu/fast_matmul.h"

#include <cstdint>

namespace bluecl::cpu::avx2 {

void qgemm(ThreadPool& pool, const MatmulArgs& a);  // qmatmul for M > 1 (qgemm_avx2.cpp)

inline constexpr int64_t kQ4Block = 18;  // bytes of a Q4_0 block
inline constexpr int64_t kQ8Block = 34;  // bytes of a Q8_0 block

// Two x blocks for the Q4_0 GEMV. c8 undoes Q4_0's -8 offset: sum((q4 - 8) * qx) = sum(q4 * qx) - 8 S.
struct alignas(32) XPair4 {
  int8_t lo[32];  // [block 2p elements 0..15 | block 2p+1 elements 0..15]
  int8_t hi[32];  // [block 2p elements 16..31 | block 2p+1 elements 16..31]
  float d8[8];    // [d x4 | d' x4]
  int32_t c8[8];  // [8 S x4 | 8 S' x4]
};

// Quantises 32 floats to q (element order kept); returns d (rounded to fp16) and the sum of q.
inline float quant_block(const float* x, int8_t* q, int32_t* sum) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
  const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
  const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float d = _mm_cvtss_f32(m4) / 127.0f;
  const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, id)),
                i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, id));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, id)),
                i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, id));
  __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
  *sum = _mm_cvtsi128_si32(s4);
  // The packs interleave 128-bit lanes: dwords come out as i0a i1a i2a i3a i0b i1b i2b i3b.
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q),
                      _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  return _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  __builtin_memcpy(&v, p, 2);
  return v;
}

}  // namespace bluecl::cpu::avx2

#endif
