// The CPU backend's fast matmuls (CpuPrecision::Fast): y[M, N] = x[M, K] @ W[N, K]^T (+ bias[N]), x and y
// fp32 row-major, W rows of `w_row` bytes in the GGUF layout (no re-layout: W is the mapped file).
//
//   qmatmul (W Q4_0 / Q8_0, K % 32 == 0): each row of x is quantised once per call to 8-bit blocks of 32,
//     d = max|x| / 127, q = round(x / d), d kept as fp16 (llama.cpp's Q8_0 activations); the block dot
//     products are exact integers, scaled by d_x * d_w and summed in fp32.
//     M == 1 streams W once (rows split between threads, 4 rows per pass); M > 1 repacks blocks of W
//     rows into a cache-resident panel and reuses it across all rows of x.
//   fmatmul (W F32 / F16, or Q4_0 / Q8_0 when M > 1 and the activations must stay precise): fp32
//   multiply-adds of exact fp32 (F16C-converted, or dequantised) weights; M > 1 packs W
//     into k-major panels for an FMA register-tile kernel.
//
// The `scalar` namespace holds portable versions of the same arithmetic, compiled everywhere; the
// unqualified functions use AVX2/FMA/F16C when the library is built for them (BLUECL_NATIVE) and the
// scalar versions otherwise. Both quantise identically, so they differ only by fp32 summation order.
#pragma once

#include "backend/cpu/thread_pool.h"
#include "graph/dtype.h"

#include <cstddef>
#include <cstdint>

namespace bluecl::cpu {

struct MatmulArgs {
  const float* x;
  int64_t M, K;
  DType wt;
  const uint8_t* w;
  size_t w_row;  // bytes per row of W
  int64_t N;
  const float* bias;  // [N] or null
  float* y;
};

void qmatmul(ThreadPool& pool, const MatmulArgs& a);
void fmatmul(ThreadPool& pool, const MatmulArgs& a);
bool fast_matmul_is_simd();  // whether the two above use the AVX2 kernels

namespace scalar {
void qmatmul(ThreadPool& pool, const MatmulArgs& a);
void fmatmul(ThreadPool& pool, const MatmulArgs& a);
}  // namespace scalar

// A per-thread, grow-only, 64-byte-aligned buffer (slot 0..3): kernels run hundreds of times per token,
// and a fresh large allocation each time would fault in new pages on every call.
void* scratch(int slot, size_t bytes);

}  // namespace bluecl::cpu
