// Portable versions of the fast matmuls (see fast_matmul.h), the per-thread scratch buffers, and the
// dispatch for builds without AVX2. The scalar qmatmul quantises x exactly as the AVX2 kernels do
// (d = max|x| / 127, q = x * (1/d) rounded to nearest even, d then rounded to fp16), so the two agree up
// to fp32 summation order; tests compare them.
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/quant_act.h"
#include "backend/cpu/simd_math.h"

#include "graph/base/error.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <vector>

namespace bluecl::cpu {

void* scratch(int slot, size_t bytes) {
  struct Buf {
    void* p = nullptr;
    size_t size = 0;
    ~Buf() { std::free(p); }
  };
  thread_local Buf bufs[4];
  BLUECL_ASSERT(slot >= 0 && slot < 4, "scratch slot {}", slot);
  Buf& b = bufs[slot];
  if (b.size < bytes) {
    std::free(b.p);
    b.size = (std::max(bytes, b.size * 3 / 2) + 63) / 64 * 64;
    b.p = std::aligned_alloc(64, b.size);
    if (!b.p) fail(Status::OutOfMemory, "cannot allocate {} bytes of CPU scratch memory", b.size);
  }
  return b.p;
}

void exp_array(const float* x, float* y, int64_t n) {
  exp_shifted_sum(x, 0.0f, y, n);
}

namespace scalar {

namespace {

// The dot product of one W row with one quantised x row.
float dot_q(DType wt, const uint8_t* w, const int8_t* xq, const float* xd, int64_t nb) {
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* x = xq + 32 * b;
    int32_t sum = 0;
    float dw;
    if (wt == DType::Q4_0) {
      const auto* blk = reinterpret_cast<const BlockQ4_0*>(w) + b;
      for (int i = 0; i < 16; ++i) {
        sum += ((blk->qs[i] & 0x0F) - 8) * x[i];
        sum += ((blk->qs[i] >> 4) - 8) * x[i + 16];
      }
      dw = fp16_to_fp32(blk->d);
    } else {
      const auto* blk = reinterpret_cast<const BlockQ8_0*>(w) + b;
      for (int i = 0; i < 32; ++i) sum += blk->qs[i] * x[i];
      dw = fp16_to_fp32(blk->d);
    }
    acc += static_cast<float>(sum) * (dw * xd[b]);
  }
  return acc;
}

}  // namespace

void qmatmul(ThreadPool& pool, const MatmulArgs& a) {
  BLUECL_ASSERT(a.wt == DType::Q4_0 || a.wt == DType::Q8_0, "qmatmul on {}", dtype_name(a.wt));
  BLUECL_ASSERT(a.K % 32 == 0, "qmatmul with K = {}", a.K);
  const int64_t nb = a.K / 32;
  std::vector<int8_t> xq(a.M * a.K);
  std::vector<float> xd(a.M * nb);
  for (int64_t m = 0; m < a.M; ++m) {
    for (int64_t b = 0; b < nb; ++b) {
      const float* x = a.x + m * a.K + 32 * b;
      float amax = 0.0f;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
      const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
      xd[m * nb + b] = fp16_to_fp32(fp32_to_fp16(d));
      for (int i = 0; i < 32; ++i) xq[m * a.K + 32 * b + i] = static_cast<int8_t>(std::nearbyint(x[i] * id));
    }
  }
  pool.parallel_for(a.N, [&](int64_t n0, int64_t n1, int) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t m = 0; m < a.M; ++m)
        a.y[m * a.N + n] = dot_q(a.wt, a.w + n * a.w_row, xq.data() + m * a.K, xd.data() + m * nb, nb) +
                           (a.bias ? a.bias[n] : 0.0f);
  });
}

void fmatmul(ThreadPool& pool, const MatmulArgs& a) {
  pool.parallel_for(a.N, [&](int64_t n0, int64_t n1, int) {
    std::vector<float> row(a.K);
    for (int64_t n = n0; n < n1; ++n) {
      const float* w = reinterpret_cast<const float*>(a.w + n * a.w_row);
      if (a.wt != DType::F32) {
        dequantize_row(a.wt, a.w + n * a.w_row, row.data(), a.K);
        w = row.data();
      }
      for (int64_t m = 0; m < a.M; ++m) {
        const float* x = a.x + m * a.K;
        float acc = 0.0f;
        for (int64_t k = 0; k < a.K; ++k) acc += x[k] * w[k];
        a.y[m * a.N + n] = acc + (a.bias ? a.bias[n] : 0.0f);
      }
    }
  });
}

}  // namespace scalar

#ifndef BLUECL_CPU_AVX2
void qmatmul(ThreadPool& pool, const MatmulArgs& a) {
  scalar::qmatmul(pool, a);
}
void fmatmul(ThreadPool& pool, const MatmulArgs& a) {
  scalar::fmatmul(pool, a);
}
bool fast_matmul_is_simd() {
  return false;
}
#endif

}  // namespace bluecl::cpu
