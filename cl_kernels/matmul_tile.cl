// matmul_tile: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) for many rows of x (prefill, the ViT), written
// for GPUs. x [M, K] f32, y [M, N] f32; W as in matmul.cl (WTYPE 0 F32, 1 F16, 2 Q8_0, 3 Q4_0, quantised
// weights re-laid-out into quants and fp16 scales, see ClWeightLayout).
//
// A work-group of (BN / TN, BM / TM) work-items computes a BM x BN tile of y. K is walked 32 values (one
// quantisation block) at a time: the group loads the 32-wide slices of its BM rows of x and of its BN rows
// of W into local memory, dequantising W on the way (consecutive work-items read consecutive 4-byte
// words), then each work-item accumulates a TM x TN register block: rows ty + i * (BM / TM), columns
// tx + j * (BN / TN), so that neighbouring work-items read neighbouring local words (no bank conflicts, and
// contiguous vectors where a CPU runtime vectorises across work-items). Local memory: 32 * (BM + BN)
// values, k-major. HALF (cl_khr_fp16): tiles and products in half (half the local memory), sums in float
// (32-wide sums in half lost 3% of the golden top-1 on an f32 model). Rows past M or N and K past its end load zeros and write nothing.
// Global = (ceil(N / TN) rounded to BN / TN, ceil(M / TM) rounded to BM / TM).
#ifndef HALF
#define HALF 0
#endif
#if HALF
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#define T half
#define T4 half4
#define CVT4 convert_half4
#else
#define T float
#define T4 float4
#define CVT4 convert_float4
#endif
#define NT (WX * WY)

inline void store4(__local T* dst, uint stride, T4 v) {
  dst[0] = v.x;
  dst[stride] = v.y;
  dst[2 * stride] = v.z;
  dst[3 * stride] = v.w;
}

// Four consecutive values of row `row` of a row-major [*, K] f32 matrix starting at k, zero past K.
inline float4 load_f32x4(__global const float* p, size_t row, uint k, uint K) {
  __global const float* r = p + row * K;
  if (k + 4 <= K) return vload4(0, r + k);
  float4 v = 0.0f;
  if (k < K) v.x = r[k];
  if (k + 1 < K) v.y = r[k + 1];
  if (k + 2 < K) v.z = r[k + 2];
  return v;
}

#if WTYPE == 1
inline float4 load_f16x4(__global const half* p, size_t row, uint k, uint K) {
  __global const half* r = p + row * K;
  if (k + 4 <= K) return vload_half4(0, r + k);
  float4 v = 0.0f;
  if (k < K) v.x = vload_half(k, r);
  if (k + 1 < K) v.y = vload_half(k + 1, r);
  if (k + 2 < K) v.z = vload_half(k + 2, r);
  return v;
}
#endif

__kernel __attribute__((reqd_work_group_size(WX, WY, 1)))
void matmul_tile(__global const float* x, ulong x_off, __global const uchar* w, ulong wq_off, ulong ws_off,
                 __global const float* bias, ulong b_off, __global float* y, ulong y_off, uint M, uint N, uint K,
                 int has_bias) {
  __local T xt[32 * BM];  // xt[k * BM + m]
  __local T wt[32 * BN];  // wt[k * BN + n]
  const uint tx = get_local_id(0), ty = get_local_id(1), tid = ty * WX + tx;
  const uint m0 = get_group_id(1) * BM, n0 = get_group_id(0) * BN;
  float acc[TM][TN];
  for (int i = 0; i < TM; ++i)
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
  const uint n_blocks = (K + 31) / 32;
#if WTYPE >= 2
  const uint nb = K / 32;
#endif
  for (uint blk = 0; blk < n_blocks; ++blk) {
    const uint k0 = blk * 32;
    // x: BM rows x 8 float4 words.
    for (uint e = tid; e < BM * 8; e += NT) {
      const uint r = e / 8, c = e % 8;
      float4 v = 0.0f;
      if (m0 + r < M) v = load_f32x4(CPTR(float, x, x_off), m0 + r, k0 + 4 * c, K);
      store4(xt + (4 * c) * BM + r, BM, CVT4(v));
    }
    // W: BN rows, dequantised.
#if WTYPE == 3
    for (uint e = tid; e < BN * 4; e += NT) {
      const uint r = e / 4, c = e % 4;
      float4 lo = 0.0f, hi = 0.0f;
      if (n0 + r < N) {
        const size_t row = n0 + r;
        const uchar4 q = vload4(c, CPTR(uchar, w, wq_off) + (row * nb + blk) * 16);
        const float d = vload_half(row * nb + blk, CPTR(half, w, ws_off));
        lo = (convert_float4(q & (uchar4)0x0f) - 8.0f) * d;
        hi = (convert_float4(q >> (uchar4)4) - 8.0f) * d;
      }
      store4(wt + (4 * c) * BN + r, BN, CVT4(lo));
      store4(wt + (16 + 4 * c) * BN + r, BN, CVT4(hi));
    }
#elif WTYPE == 2
    for (uint e = tid; e < BN * 8; e += NT) {
      const uint r = e / 8, c = e % 8;
      float4 v = 0.0f;
      if (n0 + r < N) {
        const size_t row = n0 + r;
        const char4 q = vload4(c, CPTR(char, w, wq_off) + row * K + k0);
        v = convert_float4(q) * vload_half(row * nb + blk, CPTR(half, w, ws_off));
      }
      store4(wt + (4 * c) * BN + r, BN, CVT4(v));
    }
#else
    for (uint e = tid; e < BN * 8; e += NT) {
      const uint r = e / 8, c = e % 8;
      float4 v = 0.0f;
#if WTYPE == 1
      if (n0 + r < N) v = load_f16x4(CPTR(half, w, wq_off), n0 + r, k0 + 4 * c, K);
#else
      if (n0 + r < N) v = load_f32x4(CPTR(float, w, wq_off), n0 + r, k0 + 4 * c, K);
#endif
      store4(wt + (4 * c) * BN + r, BN, CVT4(v));
    }
#endif
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint kk = 0; kk < 32; ++kk) {
      T a[TM], b[TN];
      for (int i = 0; i < TM; ++i) a[i] = xt[kk * BM + ty + i * WY];
      for (int j = 0; j < TN; ++j) b[j] = wt[kk * BN + tx + j * WX];
      for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) {
#if HALF
          acc[i][j] += (float)(a[i] * b[j]);
#else
          acc[i][j] = fma(a[i], b[j], acc[i][j]);
#endif
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  store_tile(PTR(float, y, y_off), CPTR(float, bias, b_off), has_bias, m0 + ty, n0 + tx, M, N, acc);
}
