// matmul: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]), x [M, K] f32, y [M, N] f32.
// WTYPE selects W's storage (see ClWeightLayout in backend/cl/cl_runtime.h):
//   0 F32  row-major [N][K] at w + wq_off
//   1 F16  row-major [N][K] at w + wq_off
//   2 Q8_0 int8 quants [N][K] at w + wq_off, fp16 scales [N][K/32] at w + ws_off
//   3 Q4_0 quants [N][K/2] at w + wq_off (per 32-block: byte j = w[j] low nibble, w[j+16] high), scales as Q8_0
// Each work-item computes a TM x TN tile of y (GEMV: 1 x TN; GEMM: TM > 1), walking K 8 values at a time
// and dequantising in registers; scale arithmetic is fp32 (works without cl_khr_fp16). Quantised K is a
// multiple of 32; for F32/F16, K's tail is zero-filled.
#ifndef TM
#define TM 1
#endif
#ifndef TN
#define TN 1
#endif

inline float8 load_x8(__global const float* xr, uint k, uint K) {
  if (k + 8 <= K) return vload8(0, xr + k);
  float t[8];
  for (uint i = 0; i < 8; ++i) t[i] = k + i < K ? xr[k + i] : 0.0f;
  return vload8(0, t);
}

inline float8 load_w8(__global const uchar* w, ulong wq_off, ulong ws_off, uint n, uint k, uint K) {
#if WTYPE == 0
  __global const float* wr = CPTR(float, w, wq_off) + (size_t)n * K;
  return load_x8(wr, k, K);
#elif WTYPE == 1
  __global const half* wr = CPTR(half, w, wq_off) + (size_t)n * K;
  if (k + 8 <= K) return vload_half8(0, wr + k);
  float t[8];
  for (uint i = 0; i < 8; ++i) t[i] = k + i < K ? vload_half(k + i, wr) : 0.0f;
  return vload8(0, t);
#elif WTYPE == 2
  const float d = vload_half((size_t)n * (K / 32) + k / 32, CPTR(half, w, ws_off));
  return convert_float8(vload8(0, CPTR(char, w, wq_off) + (size_t)n * K + k)) * d;
#else
  const float d = vload_half((size_t)n * (K / 32) + k / 32, CPTR(half, w, ws_off));
  const uint sub = (k % 32) / 8;  // 0,1: low nibbles of bytes 0-7, 8-15; 2,3: high nibbles
  const uchar8 q = vload8(0, CPTR(uchar, w, wq_off) + (size_t)n * (K / 2) + (k / 32) * 16 + (sub & 1) * 8);
  const uchar8 v = sub < 2 ? (q & (uchar8)0x0f) : (q >> (uchar8)4);
  return (convert_float8(v) - 8.0f) * d;
#endif
}

inline float sum8(float8 v) {
  const float4 s = v.lo + v.hi;
  return s.x + s.y + s.z + s.w;
}

__kernel void matmul(__global const float* x, ulong x_off, __global const uchar* w, ulong wq_off, ulong ws_off,
                     __global const float* bias, ulong b_off, __global float* y, ulong y_off, uint M, uint N,
                     uint K, int has_bias) {
  const uint n0 = get_global_id(0) * TN;
  const uint m0 = get_global_id(1) * TM;
  if (n0 >= N || m0 >= M) return;
  __global const float* xb = CPTR(float, x, x_off);
  float8 acc[TM][TN];
  for (int i = 0; i < TM; ++i)
    for (int j = 0; j < TN; ++j) acc[i][j] = (float8)0.0f;
  for (uint k = 0; k < K; k += 8) {
    float8 xv[TM];
    for (int i = 0; i < TM; ++i) xv[i] = load_x8(xb + (size_t)min(m0 + i, M - 1) * K, k, K);
    for (int j = 0; j < TN; ++j) {
      const float8 wv = load_w8(w, wq_off, ws_off, min(n0 + j, N - 1), k, K);
      for (int i = 0; i < TM; ++i) acc[i][j] = fma(xv[i], wv, acc[i][j]);
    }
  }
  __global float* yb = PTR(float, y, y_off);
  __global const float* bb = CPTR(float, bias, b_off);
  for (int i = 0; i < TM; ++i) {
    if (m0 + i >= M) break;
    for (int j = 0; j < TN; ++j) {
      if (n0 + j >= N) break;
      yb[(size_t)(m0 + i) * N + n0 + j] = sum8(acc[i][j]) + (has_bias ? bb[n0 + j] : 0.0f);
    }
  }
}
