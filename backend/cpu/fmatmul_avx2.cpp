// AVX2/FMA fmatmul (see fast_matmul.h): W in F32 or F16 (converted exactly with F16C), fp32 arithmetic.
//
// Activations stay fp32: AVX2 has no fp16 arithmetic, so converting x to fp16 would only lose precision.
// M == 1 streams W, four rows per pass. M > 1 is the classic register-tiled GEMM: a block of W rows x KC
// columns is converted into k-major panels of 16 rows (in L2), and a 6 x 16 tile of y accumulates in 12
// registers while x is broadcast from its rows (L1).
#include "backend/cpu/f32_tile.h"
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/quant_act.h"

#ifdef BLUECL_CPU_AVX2

#include "graph/base/error.h"

#include <algorithm>
#include <cstring>

namespace bluecl::cpu {

using namespace avx2;

namespace {

constexpr int64_t kKC = 256;  // columns of W per packed block
constexpr int64_t kNC = 128;  // rows of W per packed block (KC x NC fp32 = 128 KiB)

inline __m256 load_w8(const uint8_t* row, bool f16, int64_t k) {
  if (f16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
  return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
}
inline float load_w1(const uint8_t* row, bool f16, int64_t k) {
  if (f16) return _cvtsh_ss(load_u16(row + 2 * k));
  return reinterpret_cast<const float*>(row)[k];
}

void gemv(ThreadPool& pool, const MatmulArgs& a) {
  const bool f16 = a.wt == DType::F16;
  const int64_t K = a.K, K8 = K / 8 * 8;
  const int64_t chunk = std::max<int64_t>(16, a.N / (8 * pool.size())) / 4 * 4;
  pool.parallel_dynamic(a.N, chunk, [&](int64_t n0, int64_t n1, int) {
    for (int64_t n = n0; n < n1; n += 4) {
      const int64_t R = std::min<int64_t>(4, n1 - n);
      const uint8_t* r[4];
      for (int64_t i = 0; i < 4; ++i) r[i] = a.w + (n + std::min(i, R - 1)) * a.w_row;
      __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
      // The next four rows, prefetched linearly as these are consumed (see qmatmul_avx2.cpp).
      const char* next = reinterpret_cast<const char*>(a.w + std::min(n + 4, a.N - 1) * a.w_row);
      const int64_t es = f16 ? 2 : 4;
      for (int64_t k = 0; k < K8; k += 8) {
        const __m256 x = _mm256_loadu_ps(a.x + k);
        for (int64_t j = 0; j < 4 * 8 * es; j += 64) _mm_prefetch(next + 4 * es * k + j, _MM_HINT_T0);
        for (int i = 0; i < 4; ++i) acc[i] = _mm256_fmadd_ps(load_w8(r[i], f16, k), x, acc[i]);
      }
      for (int64_t i = 0; i < R; ++i) {
        float s = hsum(acc[i]);
        for (int64_t k = K8; k < K; ++k) s += a.x[k] * load_w1(r[i], f16, k);
        a.y[n + i] = s + (a.bias ? a.bias[n + i] : 0.0f);
      }
    }
  });
}

// W rows [n0, n0 + nc) x columns [k0, k0 + kc) as k-major panels of kNR rows (zero past nc). Quantised
// rows are dequantised exactly (k0 and kc are whole blocks: kKC is a multiple of 32).
void pack(const MatmulArgs& a, int64_t n0, int64_t nc, int64_t k0, int64_t kc, float* dst) {
  const bool f16 = a.wt == DType::F16;
  const bool quantised = a.wt == DType::Q4_0 || a.wt == DType::Q8_0;
  alignas(32) float tmp[kKC];
  for (int64_t j = 0; j < (nc + kNR - 1) / kNR * kNR; ++j) {
    float* panel = dst + (j / kNR) * kc * kNR + j % kNR;
    if (j >= nc) {
      for (int64_t k = 0; k < kc; ++k) panel[k * kNR] = 0.0f;
      continue;
    }
    const uint8_t* row = a.w + (n0 + j) * a.w_row;
    int64_t k = 0;
    if (quantised) {
      dequantize_row(a.wt, row + dtype_bytes(a.wt, k0), tmp, kc);
    } else {
      for (; k + 8 <= kc; k += 8) _mm256_store_ps(tmp + k, load_w8(row, f16, k0 + k));
      for (; k < kc; ++k) tmp[k] = load_w1(row, f16, k0 + k);
    }
    for (k = 0; k < kc; ++k) panel[k * kNR] = tmp[k];
  }
}

void gemm(ThreadPool& pool, const MatmulArgs& a) {
  const int64_t M = a.M, N = a.N, K = a.K;
  // Blocks of at most kNC W rows, their count rounded up to a multiple of twice the threads (each block is
  // a long stretch of work: 9 blocks on 2 threads would leave one idle for a ninth of the time).
  const int64_t th2 = 2 * pool.size();
  const int64_t want = (std::max<int64_t>((N + kNC - 1) / kNC, th2) + th2 - 1) / th2 * th2;
  const int64_t nc = std::min(kNC, ((N + want - 1) / want + kNR - 1) / kNR * kNR);
  const int64_t n_blocks = (N + nc - 1) / nc;
  pool.parallel_dynamic(n_blocks, 1, [&](int64_t b0, int64_t b1, int) {
    auto* packed = static_cast<float*>(scratch(1, (nc + kNR) * kKC * sizeof(float)));
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n0 = blk * nc, ncur = std::min(nc, N - n0);
      for (int64_t k0 = 0; k0 < K; k0 += kKC) {
        const int64_t kc = std::min(kKC, K - k0);
        pack(a, n0, ncur, k0, kc, packed);
        for (int64_t m = 0; m < M; m += kMR) {
          const int mr = static_cast<int>(std::min<int64_t>(kMR, M - m));
          for (int64_t j = 0; j < ncur; j += kNR)
            f32_tiles[mr](a.x + m * K + k0, K, packed + (j / kNR) * kc * kNR, kc, a.y + m * N + n0 + j, N,
                          static_cast<int>(std::min<int64_t>(kNR, ncur - j)), k0 == 0,
                          a.bias ? a.bias + n0 + j : nullptr);
        }
      }
    }
  });
}

}  // namespace

void fmatmul(ThreadPool& pool, const MatmulArgs& a) {
  const bool quantised = a.wt == DType::Q4_0 || a.wt == DType::Q8_0;
  BLUECL_ASSERT(a.wt == DType::F32 || a.wt == DType::F16 || (quantised && a.M > 1), "fmatmul on {} (M {})",
                dtype_name(a.wt), a.M);
  static_assert(kKC % kQK == 0, "packed blocks must hold whole quantised blocks");
  if (a.M == 1)
    gemv(pool, a);
  else
    gemm(pool, a);
}

}  // namespace bluecl::cpu

#endif  // BLUECL_CPU_AVX2
