// Attention in fp32 SIMD (CpuPrecision::Fast); same contract as attention.cpp. Scores, softmax and the
// weighted sum of values are fp32 (the reference uses double); K and V rows (F32, F16 or Q8_0) are
// converted to fp32 as they are read.
//
// Two schedules, parallel over (batch, KV head, query block):
//  - few query rows per KV head (decode): each query walks the keys once for its scores (8 keys at a
//    time, reduced together) and once for the values, converting K and V on the fly; bound by reading
//    the cache.
//  - many rows (prefill chunks, the ViT): flash-attention tiles. The rows of a query block (all heads of
//    the KV group) are multiplied against tiles of 64 keys with the fp32 GEMM register tile: K tiles are
//    converted into k-major panels once per block, S = Q K^T, an online softmax rescales the running
//    output, then O += P V. Tiles past the causal limit of the block's last query are skipped.
// Builds without AVX2 run the reference.
#include "backend/cpu/f32_tile.h"
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/ops/ops.h"
#include "backend/cpu/simd_math.h"

#include "graph/error.h"

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

void one_query(const Attn& at, int64_t b, int64_t h, int64_t i, float* sc, float* qv) {
  const int64_t hk = h / at.group, hd = at.hd, hd8 = hd / 8 * 8, n = at.visible(i);
  const float* qr = at.q + ((b * at.nq + i) * at.H + h) * hd;
  for (int64_t d = 0; d < hd; ++d) qv[d] = qr[d] * at.scale;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 acc[8];
    for (int r = 0; r < 8; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd8; d += 8) {
      const __m256 qd = _mm256_loadu_ps(qv + d);
      for (int r = 0; r < 8; ++r)
        acc[r] = _mm256_fmadd_ps(load8(at.kt, at.k_row(b, j + r, hk), d), qd, acc[r]);
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
    _mm256_storeu_ps(sc + j, s);
  }
  for (; j < n; ++j) {
    const uint8_t* kr = at.k_row(b, j, hk);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd8; d += 8)
      acc = _mm256_fmadd_ps(load8(at.kt, kr, d), _mm256_loadu_ps(qv + d), acc);
    float s = hsum(acc);
    for (int64_t d = hd8; d < hd; ++d) s += qv[d] * load1(at.kt, kr, d);
    sc[j] = s;
  }
  float mx = -INFINITY;
  for (int64_t t = 0; t < n; ++t) mx = std::max(mx, sc[t]);
  const float inv = 1.0f / exp_shifted_sum(sc, mx, sc, n);

  float* yr = at.y + ((b * at.nq + i) * at.H + h) * hd;
  // 64 output dims per pass keep 8 accumulators in registers; each pass reads its own cache lines of V.
  for (int64_t d0 = 0; d0 < hd8; d0 += 64) {
    const int nv = static_cast<int>(std::min<int64_t>(64, hd8 - d0) / 8);
    __m256 acc[8];
    for (int v = 0; v < 8; ++v) acc[v] = _mm256_setzero_ps();
    for (int64_t t = 0; t < n; ++t) {
      const __m256 p = _mm256_set1_ps(sc[t]);
      const uint8_t* vr = at.v_row(b, t, hk);
      for (int v = 0; v < nv; ++v) acc[v] = _mm256_fmadd_ps(p, load8(at.kt, vr, d0 + 8 * v), acc[v]);
    }
    for (int v = 0; v < nv; ++v)
      _mm256_storeu_ps(yr + d0 + 8 * v, _mm256_mul_ps(acc[v], _mm256_set1_ps(inv)));
  }
  for (int64_t d = hd8; d < hd; ++d) {
    float s = 0.0f;
    for (int64_t t = 0; t < n; ++t) s += sc[t] * load1(at.kt, at.v_row(b, t, hk), d);
    yr[d] = s * inv;
  }
}

// ------------------------------------------------------------------------------- many rows: tiles ---

// K rows [j0, j0 + kt) of KV head hk as panels of 16 keys, k-major: Kp[p][d][16]; missing keys are zero.
void pack_k(const Attn& at, int64_t b, int64_t hk, int64_t j0, int64_t kt, float* Kp, float* tmp) {
  const int64_t hd = at.hd, hd8 = hd / 8 * 8;
  for (int64_t jj = 0; jj < (kt + kNR - 1) / kNR * kNR; ++jj) {
    float* dst = Kp + (jj / kNR) * hd * kNR + jj % kNR;
    if (jj >= kt) {
      for (int64_t d = 0; d < hd; ++d) dst[d * kNR] = 0.0f;
      continue;
    }
    const uint8_t* row = at.k_row(b, j0 + jj, hk);
    for (int64_t d = 0; d < hd8; d += 8) _mm256_store_ps(tmp + d, load8(at.kt, row, d));
    for (int64_t d = hd8; d < hd; ++d) tmp[d] = load1(at.kt, row, d);
    for (int64_t d = 0; d < hd; ++d) dst[d * kNR] = tmp[d];
  }
}

// V rows [j0, j0 + kt) as panels of 16 dims: Vp[c][key][16]; dims past hd are zero.
void pack_v(const Attn& at, int64_t b, int64_t hk, int64_t j0, int64_t kt, int64_t hdp, float* Vp,
            float* tmp) {
  const int64_t hd = at.hd, hd8 = hd / 8 * 8;
  for (int64_t jj = 0; jj < kt; ++jj) {
    const uint8_t* row = at.v_row(b, j0 + jj, hk);
    for (int64_t d = 0; d < hd8; d += 8) _mm256_store_ps(tmp + d, load8(at.kt, row, d));
    for (int64_t d = hd8; d < hd; ++d) tmp[d] = load1(at.kt, row, d);
    for (int64_t d = hd; d < hdp; ++d) tmp[d] = 0.0f;
    for (int64_t c = 0; c < hdp / kNR; ++c)
      std::memcpy(Vp + (c * kt + jj) * kNR, tmp + c * kNR, kNR * sizeof(float));
  }
}

// Rows r = (i - i0) * group + g for queries [i0, i1) and heads hk * group + g.
void tile_unit(const Attn& at, int64_t b, int64_t hk, int64_t i0, int64_t i1) {
  const int64_t hd = at.hd, hdp = (hd + kNR - 1) / kNR * kNR, R = (i1 - i0) * at.group;
  const int64_t kv_end = at.causal ? at.past + i1 : at.n_kv;
  // Sub-buffers start on 32-byte boundaries (the tile kernel loads panels aligned).
  const auto up8 = [](int64_t n) { return (n + 7) / 8 * 8; };
  const int64_t sizes[] = {R * hd, R * kKT, R * hdp, R, R, kKT * hd, kKT * hdp, hdp};
  int64_t total = 0;
  for (int64_t n : sizes) total += up8(n);
  float* p = static_cast<float*>(scratch(2, total * sizeof(float)));
  float* bufs[8];
  for (int k = 0; k < 8; ++k) bufs[k] = p, p += up8(sizes[k]);
  float* Q = bufs[0];     // [R][hd], pre-scaled
  float* S = bufs[1];     // [R][kKT]: scores, then probabilities
  float* O = bufs[2];     // [R][hdp]
  float* mrow = bufs[3];  // running max per row
  float* lrow = bufs[4];  // running sum per row
  float* Kp = bufs[5];    // [kKT/16][hd][16]
  float* Vp = bufs[6];    // [hdp/16][kt][16]
  float* tmp = bufs[7];   // one converted row
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
    pack_k(at, b, hk, j0, kt, Kp, tmp);
    pack_v(at, b, hk, j0, kt, hdp, Vp, tmp);
    for (int64_t r = 0; r < R; r += kMR) {
      const int mr = static_cast<int>(std::min<int64_t>(kMR, R - r));
      for (int64_t p = 0; p < panels; ++p)
        f32_tiles[mr](Q + r * hd, hd, Kp + p * hd * kNR, hd, S + r * kKT + p * kNR, kKT, kNR, true, nullptr);
    }
    for (int64_t r = 0; r < R; ++r) {
      float* s = S + r * kKT;
      const int64_t lim = std::min(kt, at.visible(i0 + r / at.group) - j0);  // keys of this tile the row sees
      if (lim <= 0) {
        std::fill_n(s, kt, 0.0f);
        continue;
      }
      float mx = mrow[r];
      for (int64_t t = 0; t < lim; ++t) mx = std::max(mx, s[t]);
      const float alpha = exp_fast(mrow[r] - mx);
      const float sum = exp_shifted_sum(s, mx, s, lim);
      std::fill(s + lim, s + kt, 0.0f);
      lrow[r] = lrow[r] * alpha + sum;
      mrow[r] = mx;
      if (alpha != 1.0f)
        for (int64_t d = 0; d < hdp; ++d) O[r * hdp + d] *= alpha;
    }
    for (int64_t r = 0; r < R; r += kMR) {
      const int mr = static_cast<int>(std::min<int64_t>(kMR, R - r));
      for (int64_t c = 0; c < hdp / kNR; ++c)
        f32_tiles[mr](S + r * kKT, kKT, Vp + c * kt * kNR, kt, O + r * hdp + c * kNR, hdp, kNR, false,
                      nullptr);
    }
  }
  for (int64_t r = 0; r < R; ++r) {
    const int64_t i = i0 + r / at.group, h = hk * at.group + r % at.group;
    float* yr = at.y + ((b * at.nq + i) * at.H + h) * hd;
    const float inv = 1.0f / lrow[r];
    for (int64_t d = 0; d < hd; ++d) yr[d] = O[r * hdp + d] * inv;
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
    a.pool.parallel_for(at.B * at.H * at.nq, [&](int64_t u0, int64_t u1, int) {
      auto* buf = static_cast<float*>(scratch(2, (at.n_kv + at.hd + 16) * sizeof(float)));
      for (int64_t u = u0; u < u1; ++u)
        one_query(at, u / (at.H * at.nq), (u / at.nq) % at.H, u % at.nq, buf + at.hd + 8, buf);
    });
    return;
  }
  // Query blocks of about kRowsMax rows, balanced in size.
  const int64_t per_block = std::max<int64_t>(1, kRowsMax / at.group);
  const int64_t n_blocks = (at.nq + per_block - 1) / per_block, qb = (at.nq + n_blocks - 1) / n_blocks;
  a.pool.parallel_dynamic(at.B * at.Hkv * n_blocks, 1, [&](int64_t u0, int64_t u1, int) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t b = u / (at.Hkv * n_blocks), hk = (u / n_blocks) % at.Hkv, blk = u % n_blocks;
      tile_unit(at, b, hk, blk * qb, std::min(at.nq, (blk + 1) * qb));
    }
  });
}

#endif  // BLUECL_CPU_AVX2

}  // namespace bluecl::cpu
