// Attention in fp32 SIMD (CpuPrecision::Fast); same contract as attention.cpp. Scores, softmax and the
// weighted sum of values are fp32 (the reference uses double); K and V rows (F32, F16 or Q8_0) are
// converted to fp32 as they are read.
//
// Two schedules:
//  - few query rows per KV head (decode): a thread takes a run of heads and walks the keys in position
//    order for all of them (K and V read as one forward stream), once for the scores (8 keys at a time,
//    reduced together) and once for the values, converting K and V on the fly; bound by reading the
//    cache.
//  - many rows (prefill chunks, the ViT): flash-attention tiles, parallel over (batch, KV head). K and V
//    are converted once into panels for the fp32 GEMM register tile (K transposed 8 x 8 at a time); each
//    block of query rows (all heads of the KV group) then runs S = Q K^T against 64-key tiles, an online
//    softmax rescaling the running output, and O += P V. Tiles past the causal limit of the block's last
//    query are skipped.
// Builds without AVX2 run the reference.
#include "backend/cpu/f32_tile.h"
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/ops/ops.h"
#include "backend/cpu/simd_math.h"

#include "graph/base/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bluecl::cpu {

#ifndef BLUECL_CPU_AVX2
void attention_fast(const OpArgs& a) {
  attention_reference(a);
}
#else

using namespace avx2;

namespace {

constexpr int64_t kKT = 64;       // keys per tile
constexpr int64_t kRowsMax = 96;  // query rows (queries x heads of a group) per tile unit
constexpr int64_t kFewRows = 4;   // at most this many rows per KV head: the streaming schedule

struct Attn {
  int64_t B, nq, H, hd, Hkv, group, past, n_kv, n_pos;  // n_pos: positions in K/V (cache length)
  DType kt;
  size_t kv_row, kv_pos;
  const uint8_t *K, *V;
  const float* q;
  float* y;
  float scale;
  bool causal;

  const uint8_t* k_row(int64_t b, int64_t j, int64_t hk) const {
    return K + (b * n_pos + j) * kv_pos + hk * kv_row;
  }
  const uint8_t* v_row(int64_t b, int64_t j, int64_t hk) const {
    return V + (b * n_pos + j) * kv_pos + hk * kv_row;
  }
  int64_t visible(int64_t i) const { return causal ? past + i + 1 : n_kv; }
};

// 8 fp32 values of a K/V row starting at element d (d % 8 == 0, d + 8 <= n).
inline __m256 load8(DType t, const uint8_t* row, int64_t d) {
  switch (t) {
    case DType::F16:
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * d)));
    case DType::Q8_0: {
      const uint8_t* blk = row + (d / 32) * kQ8Block;
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 2 + d % 32));
      return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)),
                           _mm256_set1_ps(_cvtsh_ss(load_u16(blk))));
    }
    default:
      return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + d);
  }
}
inline float load1(DType t, const uint8_t* row, int64_t d) {
  switch (t) {
    case DType::F16:
      return _cvtsh_ss(load_u16(row + 2 * d));
    case DType::Q8_0: {
      const uint8_t* blk = row + (d / 32) * kQ8Block;
      return _cvtsh_ss(load_u16(blk)) * static_cast<float>(static_cast<int8_t>(blk[2 + d % 32]));
    }
    default:
      return reinterpret_cast<const float*>(row)[d];
  }
}

// Sum of each of 8 vectors, as one vector.
inline __m256 hsum8(const __m256 v[8]) {
  const __m256 a = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  const __m256 b = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
  // a = [s0 s1 s2 s3 | s0 s1 s2 s3] halves, b likewise for s4..s7.
  return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
}

// ------------------------------------------------------------------------------ few rows: streaming ---

// Scores of 8 keys [j, j + 8) for head h against the pre-scaled query qv.
inline __m256 scores8(const Attn& at, int64_t b, int64_t j, int64_t hk, const float* qv) {
  const int64_t hd = at.hd, hd8 = hd / 8 * 8;
  __m256 acc[8];
  for (int r = 0; r < 8; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t d = 0; d < hd8; d += 8) {
    const __m256 qd = _mm256_loadu_ps(qv + d);
    for (int r = 0; r < 8; ++r) acc[r] = _mm256_fmadd_ps(load8(at.kt, at.k_row(b, j + r, hk), d), qd, acc[r]);
  }
  __m256 s = hsum8(acc);
  if (hd8 < hd) {
    alignas(32) float t[8];
    for (int r = 0; r < 8; ++r) {
      t[r] = 0.0f;
      for (int64_t d = hd8; d < hd; ++d) t[r] += qv[d] * load1(at.kt, at.k_row(b, j + r, hk), d);
    }
    s = _mm256_add_ps(s, _mm256_load_ps(t));
  }
  return s;
}

inline float score1(const Attn& at, int64_t b, int64_t j, int64_t hk, const float* qv) {
  const int64_t hd8 = at.hd / 8 * 8;
  const uint8_t* kr = at.k_row(b, j, hk);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t d = 0; d < hd8; d += 8)
    acc = _mm256_fmadd_ps(load8(at.kt, kr, d), _mm256_loadu_ps(qv + d), acc);
  float s = hsum(acc);
  for (int64_t d = hd8; d < at.hd; ++d) s += qv[d] * load1(at.kt, kr, d);
  return s;
}

// Query i of batch b for heads [h0, h1). The keys are walked in position order for all these heads at
// once, so K and V (each position's heads side by side) are read as one forward stream.
void query_heads(const Attn& at, int64_t b, int64_t i, int64_t h0, int64_t h1) {
  const int64_t hd = at.hd, hd8 = hd / 8 * 8, n = at.visible(i), nh = h1 - h0;
  const int64_t n8 = (n + 7) / 8 * 8;
  auto* buf = static_cast<float*>(scratch(2, (nh * (n8 + hd + hd) + 8) * sizeof(float)));
  float* sc = buf;           // [nh][n8] scores, then probabilities
  float* qv = sc + nh * n8;  // [nh][hd] pre-scaled queries
  float* o = qv + nh * hd;   // [nh][hd] outputs
  for (int64_t h = 0; h < nh; ++h) {
    const float* qr = at.q + ((b * at.nq + i) * at.H + h0 + h) * hd;
    for (int64_t d = 0; d < hd; ++d) qv[h * hd + d] = qr[d] * at.scale;
  }
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int64_t h = 0; h < nh; ++h)
      _mm256_storeu_ps(sc + h * n8 + j, scores8(at, b, j, (h0 + h) / at.group, qv + h * hd));
  for (; j < n; ++j)
    for (int64_t h = 0; h < nh; ++h) sc[h * n8 + j] = score1(at, b, j, (h0 + h) / at.group, qv + h * hd);
  for (int64_t h = 0; h < nh; ++h) {
    float* s = sc + h * n8;
    const float mx = max_of(s, n, -INFINITY);
    scale_in_place(s, n, 1.0f / exp_shifted_sum(s, mx, s, n));
  }
  std::fill_n(o, nh * hd, 0.0f);
  // Blocks of 16 positions (all heads' V rows of a block stay in L1); per head, 64 output dims per pass
  // keep 8 accumulators in registers.
  constexpr int64_t kBlock = 16;
  for (int64_t t0 = 0; t0 < n; t0 += kBlock) {
    const int64_t t1 = std::min(n, t0 + kBlock);
    for (int64_t h = 0; h < nh; ++h) {
      const int64_t hk = (h0 + h) / at.group;
      const float* p = sc + h * n8;
      float* oh = o + h * hd;
      for (int64_t d0 = 0; d0 < hd8; d0 += 64) {
        const int nv = static_cast<int>(std::min<int64_t>(64, hd8 - d0) / 8);
        __m256 acc[8];
        for (int v = 0; v < nv; ++v) acc[v] = _mm256_loadu_ps(oh + d0 + 8 * v);
        for (int64_t t = t0; t < t1; ++t) {
          const __m256 pv = _mm256_set1_ps(p[t]);
          const uint8_t* vr = at.v_row(b, t, hk);
          for (int v = 0; v < nv; ++v) acc[v] = _mm256_fmadd_ps(pv, load8(at.kt, vr, d0 + 8 * v), acc[v]);
        }
        for (int v = 0; v < nv; ++v) _mm256_storeu_ps(oh + d0 + 8 * v, acc[v]);
      }
      for (int64_t d = hd8; d < hd; ++d)
        for (int64_t t = t0; t < t1; ++t) oh[d] += p[t] * load1(at.kt, at.v_row(b, t, hk), d);
    }
  }
  for (int64_t h = 0; h < nh; ++h) std::copy_n(o + h * hd, hd, at.y + ((b * at.nq + i) * at.H + h0 + h) * hd);
}

// ------------------------------------------------------------------------------- many rows: tiles ---

// Transposes 8 rows of 8 floats in place: afterwards v[c] holds column c.
inline void transpose8(__m256 v[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  v[0] = _mm256_permute2f128_ps(u0, u4, 0x20), v[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  v[2] = _mm256_permute2f128_ps(u2, u6, 0x20), v[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  v[4] = _mm256_permute2f128_ps(u0, u4, 0x31), v[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  v[6] = _mm256_permute2f128_ps(u2, u6, 0x31), v[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Keys [0, n) of KV head hk as panels of 16 keys, k-major: Kp[p][d][16]; keys past n are zero.
void pack_k(const Attn& at, int64_t b, int64_t hk, int64_t n, float* Kp) {
  const int64_t hd = at.hd, hd8 = hd / 8 * 8;
  for (int64_t j0 = 0; j0 < (n + kNR - 1) / kNR * kNR; j0 += 8) {
    float* dst = Kp + (j0 / kNR) * hd * kNR + j0 % kNR;
    const int64_t valid = std::min<int64_t>(8, n - j0);
    for (int64_t d = 0; d < hd8; d += 8) {
      __m256 v[8];
      for (int64_t r = 0; r < 8; ++r)
        v[r] = r < valid ? load8(at.kt, at.k_row(b, j0 + r, hk), d) : _mm256_setzero_ps();
      transpose8(v);
      for (int c = 0; c < 8; ++c) _mm256_store_ps(dst + (d + c) * kNR, v[c]);
    }
    for (int64_t d = hd8; d < hd; ++d)
      for (int64_t r = 0; r < 8; ++r)
        dst[d * kNR + r] = r < valid ? load1(at.kt, at.k_row(b, j0 + r, hk), d) : 0.0f;
  }
}

// Values [0, n) as panels of 16 dims: Vp[c][j][16], n_pad rows per panel; dims past hd are zero.
void pack_v(const Attn& at, int64_t b, int64_t hk, int64_t n, int64_t n_pad, int64_t hdp, float* Vp) {
  const int64_t hd = at.hd, hd8 = hd / 8 * 8;
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* row = at.v_row(b, j, hk);
    for (int64_t d = 0; d < hd8; d += 8)
      _mm256_store_ps(Vp + ((d / kNR) * n_pad + j) * kNR + d % kNR, load8(at.kt, row, d));
    for (int64_t d = hd8; d < hdp; ++d)
      Vp[((d / kNR) * n_pad + j) * kNR + d % kNR] = d < hd ? load1(at.kt, row, d) : 0.0f;
  }
}

// All query rows of KV head hk (queries x the group's heads, r = i * group + g). K and V are converted
// and packed once, then each block of up to kRowsMax rows runs the flash loop over 64-key tiles.
void tile_unit(const Attn& at, int64_t b, int64_t hk) {
  const int64_t hd = at.hd, hdp = (hd + kNR - 1) / kNR * kNR;
  const int64_t n_all = at.causal ? at.past + at.nq : at.n_kv, n_pad = (n_all + kNR - 1) / kNR * kNR;
  const int64_t per_block = std::max<int64_t>(1, kRowsMax / at.group);
  const int64_t n_blocks = (at.nq + per_block - 1) / per_block, qb = (at.nq + n_blocks - 1) / n_blocks;
  const int64_t R_max = qb * at.group;
  // Sub-buffers start on 32-byte boundaries (the tile kernel loads panels aligned).
  const auto up8 = [](int64_t n) { return (n + 7) / 8 * 8; };
  const int64_t sizes[] = {n_pad * hd, hdp * n_pad, R_max * hd, R_max * kKT, R_max * hdp, R_max, R_max};
  int64_t total = 0;
  for (int64_t n : sizes) total += up8(n);
  float* p = static_cast<float*>(scratch(2, total * sizeof(float)));
  float* bufs[7];
  for (int k = 0; k < 7; ++k) bufs[k] = p, p += up8(sizes[k]);
  float* Kp = bufs[0];    // [n_pad/16][hd][16]
  float* Vp = bufs[1];    // [hdp/16][n_pad][16]
  float* Q = bufs[2];     // [R][hd], pre-scaled
  float* S = bufs[3];     // [R][kKT]: scores, then probabilities
  float* O = bufs[4];     // [R][hdp]
  float* mrow = bufs[5];  // running max per row
  float* lrow = bufs[6];  // running sum per row
  pack_k(at, b, hk, n_all, Kp);
  pack_v(at, b, hk, n_all, n_pad, hdp, Vp);

  for (int64_t i0 = 0; i0 < at.nq; i0 += qb) {
    const int64_t i1 = std::min(at.nq, i0 + qb), R = (i1 - i0) * at.group;
    const int64_t kv_end = at.causal ? at.past + i1 : at.n_kv;
    for (int64_t r = 0; r < R; ++r) {
      const int64_t i = i0 + r / at.group, h = hk * at.group + r % at.group;
      const float* qr = at.q + ((b * at.nq + i) * at.H + h) * hd;
      for (int64_t d = 0; d < hd; ++d) Q[r * hd + d] = qr[d] * at.scale;
      mrow[r] = -INFINITY;
      lrow[r] = 0.0f;
    }
    std::fill_n(O, R * hdp, 0.0f);
    for (int64_t j0 = 0; j0 < kv_end; j0 += kKT) {
      const int64_t kt = std::min(kKT, kv_end - j0), panels = (kt + kNR - 1) / kNR;
      for (int64_t r = 0; r < R; r += kMR) {
        const int mr = static_cast<int>(std::min<int64_t>(kMR, R - r));
        for (int64_t q = 0; q < panels; ++q)
          f32_tiles[mr](Q + r * hd, hd, Kp + (j0 / kNR + q) * hd * kNR, hd, S + r * kKT + q * kNR, kKT, kNR,
                        true, nullptr);
      }
      for (int64_t r = 0; r < R; ++r) {
        float* s = S + r * kKT;
        const int64_t lim =
            std::min(kt, at.visible(i0 + r / at.group) - j0);  // keys of this tile the row sees
        if (lim <= 0) {
          std::fill_n(s, kt, 0.0f);
          continue;
        }
        const float mx = max_of(s, lim, mrow[r]);
        const float alpha = exp_fast(mrow[r] - mx);
        const float sum = exp_shifted_sum(s, mx, s, lim);
        std::fill(s + lim, s + kt, 0.0f);
        lrow[r] = lrow[r] * alpha + sum;
        mrow[r] = mx;
        if (alpha != 1.0f) scale_in_place(O + r * hdp, hdp, alpha);
      }
      for (int64_t r = 0; r < R; r += kMR) {
        const int mr = static_cast<int>(std::min<int64_t>(kMR, R - r));
        for (int64_t c = 0; c < hdp / kNR; ++c)
          f32_tiles[mr](S + r * kKT, kKT, Vp + (c * n_pad + j0) * kNR, kt, O + r * hdp + c * kNR, hdp, kNR,
                        false, nullptr);
      }
    }
    for (int64_t r = 0; r < R; ++r) {
      const int64_t i = i0 + r / at.group, h = hk * at.group + r % at.group;
      float* yr = at.y + ((b * at.nq + i) * at.H + h) * hd;
      const float inv = 1.0f / lrow[r];
      for (int64_t d = 0; d < hd; ++d) yr[d] = O[r * hdp + d] * inv;
    }
  }
}

}  // namespace

void attention_fast(const OpArgs& a) {
  const Shape& qs = a.in(0).shape;
  const Shape& ks = a.in(1).shape;
  const AttentionAttr& aa = a.n.a<AttentionAttr>();
  Attn at{};
  at.B = qs[0], at.nq = qs[1], at.H = qs[2], at.hd = qs[3];
  at.Hkv = ks[2], at.group = at.H / at.Hkv;
  at.past = aa.kv_cache ? a.step.n_past : ks[1] - at.nq;
  at.n_kv = at.past + at.nq;
  at.n_pos = ks[1];
  if (at.n_kv > ks[1])
    fail(Status::ContextFull, "attention over {} keys, but the cache holds {}", at.n_kv, ks[1]);
  at.kt = a.in(1).dtype;
  at.kv_row = dtype_bytes(at.kt, at.hd);
  at.kv_pos = dtype_bytes(at.kt, at.Hkv * at.hd);
  at.K = static_cast<const uint8_t*>(a.src[1]);
  at.V = static_cast<const uint8_t*>(a.src[2]);
  at.q = a.f(0);
  at.y = a.y();
  at.scale = aa.scale;
  at.causal = aa.causal;

  if (at.nq * at.group <= kFewRows) {
    // Units (b, i, h) with h innermost: a thread's contiguous range is runs of heads of one query.
    a.pool.parallel_for(
        at.B * at.nq * at.H,
        [&](int64_t u0, int64_t u1, int) {
          for (int64_t u = u0; u < u1;) {
            const int64_t bi = u / at.H, h0 = u % at.H, h1 = std::min(at.H, h0 + (u1 - u));
            query_heads(at, bi / at.nq, bi % at.nq, h0, h1);
            u += h1 - h0;
          }
        },
        rows_grain(at.n_kv * at.hd * 2));
    return;
  }
  a.pool.parallel_dynamic(at.B * at.Hkv, 1, [&](int64_t u0, int64_t u1, int) {
    for (int64_t u = u0; u < u1; ++u) tile_unit(at, u / at.Hkv, u % at.Hkv);
  });
}

#endif  // BLUECL_CPU_AVX2

}  // namespace bluecl::cpu
