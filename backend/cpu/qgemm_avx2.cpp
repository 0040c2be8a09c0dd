// AVX2 qmatmul for M > 1 (prefill chunks, the ViT): bound by arithmetic, not by reading W.
//
// Blocks of W rows are unpacked once per call into a panel that stays in L2 (nibbles expanded to bytes,
// scales as fp32 vectors) and every group of 4 x rows runs against it from L1, so the unpacking is paid
// once per M rows. The unit of work is a quad of 4 blocks (two pairs, see quant_act.h): for Q4_0 the two
// pairs' int16 maddubs sums are folded with one hadd (each lane stays below 2^15), so one madd, convert,
// scale multiply and FMA serve 128 products per x row. Lanes then hold blocks [0 0 2 2 | 1 1 3 3], which is
// how the scales are stored. Q4_0's -8 offset is applied after the loop as a small fp32 product of per-block
// x sums and weight scales instead of per block and row.
#include "backend/cpu/quant_act.h"

#ifdef BLUECL_CPU_AVX2

#include <algorithm>
#include <cstring>

namespace bluecl::cpu::avx2 {

namespace {

constexpr int kMR = 4;  // x rows per register tile (one W row each: measured faster than 4 x 2 or 2 x 4)
constexpr int kLane[4] = {0, 4, 2, 6};  // first of the two lanes of block j of a quad in the scale vector

// Four blocks of one x row (Q4_0 weights) or of one W row: bytes in pair order, scales per lane.
struct alignas(32) Quad {
  int8_t lo0[32], hi0[32], lo1[32], hi1[32];
  float d8[8];
};
// Four blocks of one packed Q8_0 W row: maddubs takes |w| as its unsigned operand (and x, signed by w,
// as the other), so the row is kept with and without signs.
struct alignas(32) QuadAbs {
  Quad q;
  int8_t alo0[32], ahi0[32], alo1[32], ahi1[32];
};

inline __m256i load(const void* p) {
  return _mm256_load_si256(static_cast<const __m256i*>(p));
}

// Block j (0..3) of a quad: where its 32 bytes go (elements 0..15 and 16..31).
inline int8_t* lo_half(Quad& q, int j) {
  return (j < 2 ? q.lo0 : q.lo1) + 16 * (j & 1);
}
inline int8_t* hi_half(Quad& q, int j) {
  return (j < 2 ? q.hi0 : q.hi1) + 16 * (j & 1);
}
inline void set_scale(Quad& q, int j, float d) {
  q.d8[kLane[j]] = q.d8[kLane[j] + 1] = d;
}

// One x row: quads (zero past the last block) and, for Q4_0, tc[b] = 8 d S per block (zero to nb8).
void quant_x(const float* x, int64_t nb, bool q4, Quad* out, float* tc, int64_t nb8) {
  const int64_t nq = (nb + 3) / 4;
  std::memset(out, 0, nq * sizeof(Quad));
  alignas(32) int8_t v[32];
  for (int64_t b = 0; b < nb; ++b) {
    int32_t s;
    const float d = quant_block(x + 32 * b, v, &s);
    Quad& Q = out[b / 4];
    const int j = static_cast<int>(b % 4);
    std::memcpy(lo_half(Q, j), v, 16);
    std::memcpy(hi_half(Q, j), v + 16, 16);
    set_scale(Q, j, d);
    if (q4) tc[b] = 8.0f * d * static_cast<float>(s);
  }
  if (q4) std::fill(tc + nb, tc + nb8, 0.0f);
}

// W rows [n0, n0 + nc) as quads (Q8_0: QuadAbs), row after row; for Q4_0 also each row's block scales
// (nb8 wide).
void pack_w(const MatmulArgs& a, int64_t n0, int64_t nc, int64_t nb, uint8_t* wp, float* dwc, int64_t nb8) {
  const int64_t nq = (nb + 3) / 4;
  const bool q4 = a.wt == DType::Q4_0;
  const size_t qsize = q4 ? sizeof(Quad) : sizeof(QuadAbs);
  const __m128i m4 = _mm_set1_epi8(0x0F);
  std::memset(wp, 0, nc * nq * qsize);
  for (int64_t r = 0; r < nc; ++r) {
    const uint8_t* row = a.w + (n0 + r) * a.w_row;
    uint8_t* dst = wp + r * nq * qsize;
    for (int64_t b = 0; b < nb; ++b) {
      Quad& Q = *reinterpret_cast<Quad*>(dst + (b / 4) * qsize);
      const int j = static_cast<int>(b % 4);
      const uint8_t* blk = row + b * (q4 ? kQ4Block : kQ8Block);
      const float d = _cvtsh_ss(load_u16(blk));
      set_scale(Q, j, d);
      if (q4) {
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(lo_half(Q, j)), _mm_and_si128(q, m4));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(hi_half(Q, j)), _mm_and_si128(_mm_srli_epi16(q, 4), m4));
        dwc[r * nb8 + b] = d;
      } else {
        auto& A = reinterpret_cast<QuadAbs&>(Q);
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 18));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(lo_half(Q, j)), lo);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(hi_half(Q, j)), hi);
        _mm_storeu_si128(reinterpret_cast<__m128i*>((j < 2 ? A.alo0 : A.alo1) + 16 * (j & 1)),
                         _mm_abs_epi8(lo));
        _mm_storeu_si128(reinterpret_cast<__m128i*>((j < 2 ? A.ahi0 : A.ahi1) + 16 * (j & 1)),
                         _mm_abs_epi8(hi));
      }
    }
    if (q4) std::fill(dwc + r * nb8 + nb, dwc + (r + 1) * nb8, 0.0f);
  }
}

// A tile: MR x rows against W rows [0, n_rows) of a packed block, over quads [q0, q1) of K. The first
// chunk of K stores y (with the bias), later chunks add to it.
struct Tile {
  const uint8_t* x;  // MR rows of quads, row stride x_row bytes
  size_t x_row;
  const float* tc;   // Q4_0: 8 d S per x block, nb8 per row
  const uint8_t* w;  // the W rows' quads (Quad or QuadAbs), row stride w_row bytes
  size_t w_row;
  const float* dwc;  // Q4_0: the W rows' block scales, nb8 per row
  int64_t n_rows, q0, q1, nb8;
  float* y;  // y[x row 0][W row 0]; x rows ldy apart, W rows adjacent
  int64_t ldy;
  const float* bias;  // per W row, or null
  bool first;
};

// Writes the MR sums of W row j.
template <int MR>
inline void store(const Tile& t, int64_t j, const __m256 acc[MR]) {
  alignas(16) float s[4];
  if (MR == 4) {
    // [a b c d] halves, then the two 128-bit halves added: the four sums.
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3 % MR]));
    _mm_store_ps(s, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
  } else {
    for (int m = 0; m < MR; ++m) s[m] = hsum(acc[m]);
  }
  for (int m = 0; m < MR; ++m) {
    float& y = t.y[m * t.ldy + j];
    y = t.first ? s[m] + (t.bias ? t.bias[j] : 0.0f) : y + s[m];
  }
}

template <int MR>
void tile_q4(const Tile& t) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t j = 0; j < t.n_rows; ++j) {
    const auto* w = reinterpret_cast<const Quad*>(t.w + j * t.w_row);
    __m256 acc[MR];
    for (auto& c : acc) c = _mm256_setzero_ps();
    for (int64_t q = t.q0; q < t.q1; ++q) {
      const Quad& W = w[q];
      const __m256i wl0 = load(W.lo0), wh0 = load(W.hi0), wl1 = load(W.lo1), wh1 = load(W.hi1);
      const __m256 dw = _mm256_load_ps(W.d8);
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        const Quad& X = *reinterpret_cast<const Quad*>(t.x + m * t.x_row + q * sizeof(Quad));
        // Nibbles <= 15, |x| <= 127: every maddubs lane, their sums and the hadd stay below 2^15.
        const __m256i s0 =
            _mm256_add_epi16(_mm256_maddubs_epi16(wl0, load(X.lo0)), _mm256_maddubs_epi16(wh0, load(X.hi0)));
        const __m256i s1 =
            _mm256_add_epi16(_mm256_maddubs_epi16(wl1, load(X.lo1)), _mm256_maddubs_epi16(wh1, load(X.hi1)));
        const __m256i i = _mm256_madd_epi16(_mm256_hadd_epi16(s0, s1), ones);
        acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(_mm256_load_ps(X.d8), dw), acc[m]);
      }
    }
    // Blocks [4 q0, 4 q1) of the offset correction; chunks start at multiples of 8 blocks, tc/dwc are
    // zero past the last block.
    const float* dwc = t.dwc + j * t.nb8;
    for (int m = 0; m < MR; ++m)
      for (int64_t b = 4 * t.q0; b < std::min(4 * t.q1, t.nb8); b += 8)
        acc[m] = _mm256_fnmadd_ps(_mm256_loadu_ps(t.tc + m * t.nb8 + b), _mm256_loadu_ps(dwc + b), acc[m]);
    store<MR>(t, j, acc);
  }
}

template <int MR>
void tile_q8(const Tile& t) {
  const __m256i ones = _mm256_set1_epi16(1);
  // Two maddubs sums of 127 * 127 products could overflow int16: each is widened before adding.
  const auto dot = [&](__m256i absw, __m256i w, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(absw, _mm256_sign_epi8(x, w)), ones);
  };
  for (int64_t j = 0; j < t.n_rows; ++j) {
    const auto* w = reinterpret_cast<const QuadAbs*>(t.w + j * t.w_row);
    __m256 acc[MR];
    for (auto& c : acc) c = _mm256_setzero_ps();
    for (int64_t q = t.q0; q < t.q1; ++q) {
      const QuadAbs& W = w[q];
      const __m256i wl0 = load(W.q.lo0), wh0 = load(W.q.hi0), wl1 = load(W.q.lo1), wh1 = load(W.q.hi1);
      const __m256i al0 = load(W.alo0), ah0 = load(W.ahi0), al1 = load(W.alo1), ah1 = load(W.ahi1);
      const __m256 dw = _mm256_load_ps(W.q.d8);
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        const Quad& X = *reinterpret_cast<const Quad*>(t.x + m * t.x_row + q * sizeof(Quad));
        const __m256i i0 = _mm256_add_epi32(dot(al0, wl0, load(X.lo0)), dot(ah0, wh0, load(X.hi0)));
        const __m256i i1 = _mm256_add_epi32(dot(al1, wl1, load(X.lo1)), dot(ah1, wh1, load(X.hi1)));
        const __m256i i = _mm256_hadd_epi32(i0, i1);
        acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(_mm256_load_ps(X.d8), dw), acc[m]);
      }
    }
    store<MR>(t, j, acc);
  }
}

using TileFn = void (*)(const Tile&);
TileFn tile_fn(bool q4, int mr) {
  switch (mr) {
    case 1:
      return q4 ? tile_q4<1> : tile_q8<1>;
    case 2:
      return q4 ? tile_q4<2> : tile_q8<2>;
    case 3:
      return q4 ? tile_q4<3> : tile_q8<3>;
    default:
      return q4 ? tile_q4<4> : tile_q8<4>;
  }
}

}  // namespace

void qgemm(ThreadPool& pool, const MatmulArgs& a) {
  const bool q4 = a.wt == DType::Q4_0;
  const int64_t M = a.M, N = a.N, nb = a.K / 32, nq = (nb + 3) / 4, nb8 = (nb + 7) / 8 * 8;
  const size_t x_row = nq * sizeof(Quad), w_quad = q4 ? sizeof(Quad) : sizeof(QuadAbs);
  auto* xq = static_cast<uint8_t*>(scratch(0, M * x_row + (q4 ? M * nb8 * sizeof(float) : 0)));
  float* tc = reinterpret_cast<float*>(xq + M * x_row);
  pool.parallel_for(M, [&](int64_t m0, int64_t m1, int) {
    for (int64_t m = m0; m < m1; ++m)
      quant_x(a.x + m * a.K, nb, q4, reinterpret_cast<Quad*>(xq + m * x_row), tc + m * nb8, nb8);
  });

  // Blocks of W rows: a packed block stays in L2, and their count is a multiple of twice the threads
  // (at least 4 per thread) so that no thread is left idle at the end.
  const int64_t w_row_packed = nq * w_quad + (q4 ? nb8 * sizeof(float) : 0);
  const int64_t max_rows = std::max<int64_t>(1, 192 * 1024 / w_row_packed), th2 = 2 * pool.size();
  const int64_t want = (std::max<int64_t>((N + max_rows - 1) / max_rows, 2 * th2) + th2 - 1) / th2 * th2;
  const int64_t nc = std::clamp<int64_t>((N + want - 1) / want, 1, N);
  const int64_t n_blocks = (N + nc - 1) / nc;
  // Chunks of K so that 4 x rows of a chunk (up to 24 KiB) stay in L1 across the block's W rows; an even
  // number of quads, so that chunks start on the 8-block steps of the correction.
  const int64_t max_q = 24 * 1024 / (kMR * sizeof(Quad));
  const int64_t n_chunks = (nq + max_q - 1) / max_q;
  const int64_t kc = ((nq + n_chunks - 1) / n_chunks + 1) / 2 * 2;
  pool.parallel_dynamic(n_blocks, 1, [&](int64_t b0, int64_t b1, int) {
    auto* wp = static_cast<uint8_t*>(scratch(1, nc * w_row_packed));
    float* dwc = reinterpret_cast<float*>(wp + nc * nq * w_quad);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * nc, ncur = std::min(nc, N - n0);
      pack_w(a, n0, ncur, nb, wp, dwc, nb8);
      for (int64_t q0 = 0; q0 < nq; q0 += kc) {
        const int64_t q1 = std::min(nq, q0 + kc);
        for (int64_t m = 0; m < M; m += kMR)
          tile_fn(q4, static_cast<int>(std::min<int64_t>(kMR, M - m)))(
              Tile{xq + m * x_row, x_row, tc + m * nb8, wp, nq * w_quad, dwc, ncur, q0, q1, nb8,
                   a.y + m * N + n0, N, a.bias ? a.bias + n0 : nullptr, q0 == 0});
      }
    }
  });
}

}  // namespace bluecl::cpu::avx2

#endif  // BLUECL_CPU_AVX2
