// AVX2 qmatmul (see fast_matmul.h): x quantised to 8-bit blocks, W in Q4_0 / Q8_0 as stored in the file.
//
// M == 1 (decode) is bound by reading W. Each thread streams a contiguous range of rows, four rows per
// pass (the x block is loaded once for four rows), and keeps the per-block work small: a Q4_0 pair of
// blocks is one 32-byte load, two masks and two maddubs per row; the four rows' block sums are combined
// with hadd so that one convert, one scale multiply and one FMA serve four rows.
//
// M > 1 is in qgemm_avx2.cpp.
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/quant_act.h"

#ifdef BLUECL_CPU_AVX2

#include "graph/base/error.h"

#include <algorithm>
#include <cstring>

namespace bluecl::cpu {

using namespace avx2;

namespace {

// The four rows of a pass are one contiguous stretch of W, read as four interleaved streams. Hardware
// prefetchers follow that poorly (measured: half the bandwidth of a linear read); prefetching the next
// group of rows linearly, at the pace this group is consumed, restores a single sequential stream.
inline void prefetch_linear(const uint8_t* next, int64_t from, int64_t bytes) {
  for (int64_t j = 0; j < bytes; j += 64)
    _mm_prefetch(reinterpret_cast<const char*>(next + from + j), _MM_HINT_T0);
}

inline __m256i load(const void* p) {
  return _mm256_load_si256(static_cast<const __m256i*>(p));
}
inline __m256 loadf(const float* p) {
  return _mm256_load_ps(p);
}

// ---------------------------------------------------------------------------------------------- x ---

// One x row into pairs for the Q4_0 GEMV.
void quant_row4(const float* x, int64_t nb, XPair4* out) {
  alignas(32) int8_t q[32];
  for (int64_t b = 0; b < nb; ++b) {
    int32_t s;
    const float d = quant_block(x + 32 * b, q, &s);
    XPair4& P = out[b / 2];
    const int h = static_cast<int>(b & 1);
    std::memcpy(P.lo + 16 * h, q, 16);
    std::memcpy(P.hi + 16 * h, q + 16, 16);
    for (int i = 0; i < 4; ++i) {
      P.d8[4 * h + i] = d;
      P.c8[4 * h + i] = 8 * s;
    }
  }
  if (nb & 1) {
    XPair4& P = out[nb / 2];
    std::memset(P.lo + 16, 0, 16);
    std::memset(P.hi + 16, 0, 16);
    for (int i = 4; i < 8; ++i) P.d8[i] = 0.0f, P.c8[i] = 0;
  }
}

// ----------------------------------------------------------------------------------------- M == 1 ---

// One pair of Q4_0 blocks (or, with Two false, a last single block) of four rows at byte offset `off`,
// accumulated into acc: [r0 r1 r2 r3 | r0' r1' r2' r3'] holds block 2p's dot products for the four rows,
// then block 2p+1's, scaled by d_w d_x.
template <bool Two>
inline __m256 q4_pair(const uint8_t* const r[4], int64_t off, const XPair4& x, __m256 acc) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  const __m256i xl = load(x.lo), xh = load(x.hi);
  __m256i I[4];
  for (int i = 0; i < 4; ++i) {
    const uint8_t* b = r[i] + off;
    const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
    const __m128i q1 =
        Two ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kQ4Block + 2)) : _mm_setzero_si128();
    const __m256i q = _mm256_set_m128i(q1, q0);
    const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    // Nibbles <= 15 and |x| <= 127: each maddubs lane and their sum fit in int16.
    const __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_maddubs_epi16(hi, xh));
    I[i] = _mm256_madd_epi16(s, ones);
  }
  __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(I[0], I[1]), _mm256_hadd_epi32(I[2], I[3]));
  h = _mm256_sub_epi32(h, load(x.c8));
  const int64_t o2 = Two ? off + kQ4Block : off;  // a single block: x's second half is zero anyway
  const __m128i sc =
      _mm_setr_epi16(static_cast<short>(load_u16(r[0] + off)), static_cast<short>(load_u16(r[1] + off)),
                     static_cast<short>(load_u16(r[2] + off)), static_cast<short>(load_u16(r[3] + off)),
                     static_cast<short>(load_u16(r[0] + o2)), static_cast<short>(load_u16(r[1] + o2)),
                     static_cast<short>(load_u16(r[2] + o2)), static_cast<short>(load_u16(r[3] + o2)));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(h), _mm256_mul_ps(_mm256_cvtph_ps(sc), loadf(x.d8)), acc);
}

// Four Q4_0 rows (r[i] may repeat for a tail) against one x row; returns the four dot products. `next`
// is where the next four rows start (for prefetching).
__m128 gemv_q4_rows(const uint8_t* const r[4], const uint8_t* next, const XPair4* xp, int64_t nb) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const int64_t full = nb / 2;
  int64_t p = 0;
  // Two pairs (72 bytes of each row) per step.
  for (; p + 2 <= full; p += 2) {
    const int64_t off = p * 2 * kQ4Block;
    prefetch_linear(next, 4 * off, 8 * kQ4Block * 2);
    acc0 = q4_pair<true>(r, off, xp[p], acc0);
    acc1 = q4_pair<true>(r, off + 2 * kQ4Block, xp[p + 1], acc1);
  }
  if (p < full) acc0 = q4_pair<true>(r, p * 2 * kQ4Block, xp[p], acc0), ++p;
  if (nb & 1) acc1 = q4_pair<false>(r, p * 2 * kQ4Block, xp[p], acc1);
  const __m256 acc = _mm256_add_ps(acc0, acc1);
  return _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
}

// Four Q8_0 rows against one x row (natural element order: q and d per block; |q| made here).
__m128 gemv_q8_rows(const uint8_t* const r[4], const uint8_t* next, const int8_t* xq, const float* xd,
                    int64_t nb) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t off = b * kQ8Block;
    const __m256i x = load(xq + 32 * b);
    const __m256i ax = _mm256_sign_epi8(x, x);
    __m256i I[4];
    prefetch_linear(next, 4 * off, 4 * kQ8Block);
    for (int i = 0; i < 4; ++i) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r[i] + off + 2));
      I[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, x)), ones);
    }
    // [r0 r1 r2 r3 | r0 r1 r2 r3]: each lane half a row's block sum; the halves are added at the end.
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(I[0], I[1]), _mm256_hadd_epi32(I[2], I[3]));
    const __m128i sc = _mm_setr_epi16(
        static_cast<short>(load_u16(r[0] + off)), static_cast<short>(load_u16(r[1] + off)),
        static_cast<short>(load_u16(r[2] + off)), static_cast<short>(load_u16(r[3] + off)), 0, 0, 0, 0);
    const __m128 d4 = _mm_mul_ps(_mm_cvtph_ps(sc), _mm_set1_ps(xd[b]));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(h), _mm256_set_m128(d4, d4), acc);
  }
  return _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
}

void gemv(ThreadPool& pool, const MatmulArgs& a) {
  const int64_t nb = a.K / 32, np = (nb + 1) / 2;
  const bool q4 = a.wt == DType::Q4_0;
  // x is quantised once by the caller; workers read it.
  uint8_t* xbuf = static_cast<uint8_t*>(scratch(0, q4 ? np * sizeof(XPair4) : nb * 36 + 64));
  auto* xp4 = reinterpret_cast<XPair4*>(xbuf);
  auto* xq8 = reinterpret_cast<int8_t*>(xbuf);
  auto* xd8 = reinterpret_cast<float*>(xbuf + nb * 32);
  if (q4) {
    quant_row4(a.x, nb, xp4);
  } else {
    for (int64_t b = 0; b < nb; ++b) {
      int32_t s;
      xd8[b] = quant_block(a.x + 32 * b, xq8 + 32 * b, &s);
    }
  }
  // Chunks of rows handed out on demand, each a contiguous stretch of W (a few per thread).
  const int64_t chunk = std::max<int64_t>(16, a.N / (8 * pool.size())) / 4 * 4;
  pool.parallel_dynamic(a.N, chunk, [&](int64_t n0, int64_t n1, int) {
    // The first group of a chunk has had no prefetch from a previous one.
    prefetch_linear(a.w + n0 * a.w_row, 0, std::min<int64_t>(4, n1 - n0) * a.w_row);
    for (int64_t n = n0; n < n1; n += 4) {
      const int64_t R = std::min<int64_t>(4, n1 - n);
      const uint8_t* r[4];
      for (int64_t i = 0; i < 4; ++i) r[i] = a.w + (n + std::min(i, R - 1)) * a.w_row;
      alignas(16) float out[4];
      const uint8_t* next = a.w + std::min(n + 4, a.N - 1) * a.w_row;
      _mm_store_ps(out, q4 ? gemv_q4_rows(r, next, xp4, nb) : gemv_q8_rows(r, next, xq8, xd8, nb));
      for (int64_t i = 0; i < R; ++i) a.y[n + i] = out[i] + (a.bias ? a.bias[n + i] : 0.0f);
    }
  });
}

}  // namespace

void qmatmul(ThreadPool& pool, const MatmulArgs& a) {
  BLUECL_ASSERT(a.wt == DType::Q4_0 || a.wt == DType::Q8_0, "qmatmul on {}", dtype_name(a.wt));
  BLUECL_ASSERT(a.K % 32 == 0, "qmatmul with K = {}", a.K);
  if (a.M == 1)
    gemv(pool, a);
  else
    avx2::qgemm(pool, a);
}

bool fast_matmul_is_simd() {
  return true;
}

}  // namespace bluecl::cpu

#endif  // BLUECL_CPU_AVX2
