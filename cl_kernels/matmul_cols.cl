// matmul_cols: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) for many rows of x (prefill, the ViT), written
// for OpenCL runtimes on CPUs that vectorise across work-items (Intel's: 16 work-items to one AVX-512
// register). One work-item per output column n and TM rows of x: it walks its own weight row n in 32-weight
// blocks, dequantises each weight once in registers and multiplies it into TM accumulators, reading x as
// values that are the same for every work-item of the group (one broadcast load each). Neighbouring
// work-items read rows K apart, which a CPU's caches and prefetchers serve well and a GPU's would not: GPUs
// use matmul_tile. W is stored as ClWeightLayout says (WTYPE as in matmul.cl); quantised K is a multiple of
// 32, F32/F16 K is any. Global = (N rounded up to the group, ceil(M / TM)).
#ifndef TM
#define TM 16
#endif

// s[i] += x[row i][k] * wv for the TM rows.
#define COLS_ACC(s, xr, k, wv)                          \
  for (int i_ = 0; i_ < TM; ++i_) s[i_] = fma(xr[i_][k], (wv), s[i_])

__kernel void matmul_cols(__global const float* x, ulong x_off, __global const uchar* w, ulong wq_off,
                          ulong ws_off, __global const float* bias, ulong b_off, __global float* y, ulong y_off,
                          uint M, uint N, uint K, int has_bias) {
  const uint n = get_global_id(0);
  const uint m0 = get_global_id(1) * TM;
  if (n >= N) return;
  __global const float* xr[TM];
  for (int i = 0; i < TM; ++i) xr[i] = CPTR(float, x, x_off) + (size_t)min(m0 + i, M - 1) * K;
  float acc[TM];
  for (int i = 0; i < TM; ++i) acc[i] = 0.0f;
#if WTYPE >= 2
  const uint nb = K / 32;
  __global const half* sr = CPTR(half, w, ws_off) + (size_t)n * nb;
#if WTYPE == 3
  __global const uint* wr = CPTR(uint, w, wq_off) + (size_t)n * nb * 4;
#else
  __global const uint* wr = CPTR(uint, w, wq_off) + (size_t)n * nb * 8;
#endif
  for (uint kb = 0; kb < nb; ++kb) {
    const uint k0 = kb * 32;
    float s[TM];
    for (int i = 0; i < TM; ++i) s[i] = 0.0f;
#if WTYPE == 3
    // Q4_0: byte j of a block holds weight j (low nibble) and weight j + 16 (high), each stored + 8.
    for (int q = 0; q < 4; ++q) {
      const uint word = wr[kb * 4 + q];
      for (int b = 0; b < 4; ++b) {
        const float lo = (float)((word >> (8 * b)) & 15u) - 8.0f;
        const float hi = (float)((word >> (8 * b + 4)) & 15u) - 8.0f;
        COLS_ACC(s, xr, k0 + 4 * q + b, lo);
        COLS_ACC(s, xr, k0 + 16 + 4 * q + b, hi);
      }
    }
#else
    // Q8_0: 32 signed bytes.
    for (int q = 0; q < 8; ++q) {
      const uint word = wr[kb * 8 + q];
      for (int b = 0; b < 4; ++b) {
        const float v = (float)(char)(word >> (8 * b));
        COLS_ACC(s, xr, k0 + 4 * q + b, v);
      }
    }
#endif
    const float d = vload_half(kb, sr);
    for (int i = 0; i < TM; ++i) acc[i] = fma(s[i], d, acc[i]);
  }
#else
  // F32 / F16: plain rows of K values.
#if WTYPE == 0
  __global const float* wr = CPTR(float, w, wq_off) + (size_t)n * K;
#define COLS_W(k) wr[k]
#else
  __global const half* wr = CPTR(half, w, wq_off) + (size_t)n * K;
#define COLS_W(k) vload_half(k, wr)
#endif
  uint k = 0;
  for (; k + 8 <= K; k += 8)
    for (int j = 0; j < 8; ++j) {
      const float v = COLS_W(k + j);
      COLS_ACC(acc, xr, k + j, v);
    }
  for (; k < K; ++k) {
    const float v = COLS_W(k);
    COLS_ACC(acc, xr, k, v);
  }
#undef COLS_W
#endif
  const float b = has_bias ? CPTR(float, bias, b_off)[n] : 0.0f;
  __global float* yb = PTR(float, y, y_off);
  for (int i = 0; i < TM; ++i)
    if (m0 + i < M) yb[(size_t)(m0 + i) * N + n] = acc[i] + b;
}
