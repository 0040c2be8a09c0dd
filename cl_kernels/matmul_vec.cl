// matmul_vec: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) for MR <= 4 rows of x (decode), written for GPUs.
// x [MR, K] f32, y [MR, N] f32; W as in matmul.cl (WTYPE 0 F32, 1 F16, 2 Q8_0, 3 Q4_0; quantised weights
// re-laid-out into a quant array and an fp16 scale array, see ClWeightLayout).
//
// Work-group (LANES, ROWS): ROWS weight rows per group, LANES work-items per row. Each row is read in
// 16-byte chunks (Q4_0: one 32-weight block; Q8_0: half a block; F16: 8 weights; F32: 4), lane l taking
// chunks l, l + LANES, ...: consecutive work-items read consecutive 16-byte chunks of the same row, and the
// scales of consecutive blocks. Each lane keeps MR partial sums; the LANES lanes of a row add them up with
// sub_group_reduce_add when SG is set (the launcher sets it only where the device guarantees a subgroup of
// exactly LANES work-items: cl_intel_required_subgroup_size), else by a tree in local memory
// (ROWS * LANES * MR floats, <= 4 KiB at 256 work-items). HALF (cl_khr_fp16; quantised weights, float
// weights ignore it): the products and each chunk's sum in half, accumulation across chunks in float.
// Global = (LANES, ceil(N / ROWS) * ROWS); rows past N compute nothing and write nothing.
#ifndef MR
#define MR 1
#endif
#ifndef SG
#define SG 0
#endif
#ifndef HALF
#define HALF 0
#endif

#if HALF
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#endif

// CHUNK, VEC, hsum_vec and load_x: common.cl (LANES).

#if SG
__attribute__((intel_reqd_sub_group_size(LANES)))
#endif
__kernel __attribute__((reqd_work_group_size(LANES, ROWS, 1)))
void matmul_vec(__global const float* x, ulong x_off, __global const uchar* w, ulong wq_off, ulong ws_off,
                __global const float* bias, ulong b_off, __global float* y, ulong y_off, uint N, uint K, int has_bias) {
  const uint lane = get_local_id(0), r = get_local_id(1);
  const uint n = get_group_id(1) * ROWS + r;
  __global const float* xb = CPTR(float, x, x_off);
  float acc[MR];
  for (int m = 0; m < MR; ++m) acc[m] = 0.0f;
  if (n < N) {
#if WTYPE >= 2
    const uint nb = K / 32;
    __global const half* sc = CPTR(half, w, ws_off) + (size_t)n * nb;
#endif
#if WTYPE == 3
    __global const uchar* qr = CPTR(uchar, w, wq_off) + (size_t)n * nb * 16;
    for (uint c = lane; c < nb; c += LANES) {
      const uchar16 q = vload16(c, qr);
      const float d = vload_half(c, sc);
#if HALF
      const half16 lo = convert_half16(q & (uchar16)0x0f) - (half)8, hi = convert_half16(q >> (uchar16)4) - (half)8;
#else
      const float16 lo = convert_float16(q & (uchar16)0x0f) - 8.0f, hi = convert_float16(q >> (uchar16)4) - 8.0f;
#endif
      for (int m = 0; m < MR; ++m) {
        float16 xl, xh;
        load_x(xb + (size_t)m * K, c, K, &xl, &xh);
#if HALF
        const half16 t = fma(lo, convert_half16(xl), hi * convert_half16(xh));
        const half8 t8 = t.lo + t.hi;
        const half4 t4 = t8.lo + t8.hi;
        acc[m] = fma(d, (float)((t4.x + t4.y) + (t4.z + t4.w)), acc[m]);
#else
        acc[m] = fma(d, hsum_vec(fma(lo, xl, hi * xh)), acc[m]);
#endif
      }
    }
#else
#if WTYPE == 2
    __global const char* qr = CPTR(char, w, wq_off) + (size_t)n * K;
    const uint n_chunks = 2 * nb;
#elif WTYPE == 1
    __global const half* wr = CPTR(half, w, wq_off) + (size_t)n * K;
    const uint n_chunks = (K + 7) / 8;
#else
    __global const float* wr = CPTR(float, w, wq_off) + (size_t)n * K;
    const uint n_chunks = (K + 3) / 4;
#endif
    for (uint c = lane; c < n_chunks; c += LANES) {
#if WTYPE == 2
      const float d = vload_half(c / 2, sc);
#if HALF
      const half16 wv = convert_half16(vload16(c, qr));
#else
      const float16 wv = convert_float16(vload16(c, qr)) * d;
#endif
#elif WTYPE == 1
      float8 wv;
      if (c * 8 + 8 <= K) {
        wv = vload_half8(c, wr);
      } else {
        float t[8];
        for (uint i = 0; i < 8; ++i) t[i] = c * 8 + i < K ? vload_half(c * 8 + i, wr) : 0.0f;
        wv = vload8(0, t);
      }
#else
      float4 wv;
      if (c * 4 + 4 <= K) {
        wv = vload4(c, wr);
      } else {
        float t[4];
        for (uint i = 0; i < 4; ++i) t[i] = c * 4 + i < K ? wr[c * 4 + i] : 0.0f;
        wv = vload4(0, t);
      }
#endif
      for (int m = 0; m < MR; ++m) {
        const VEC xv = load_x(xb + (size_t)m * K, c, K);
#if WTYPE == 2 && HALF
        const half16 t = wv * convert_half16(xv);
        const half8 t8 = t.lo + t.hi;
        const half4 t4 = t8.lo + t8.hi;
        acc[m] = fma(d, (float)((t4.x + t4.y) + (t4.z + t4.w)), acc[m]);
#else
        acc[m] += hsum_vec(wv * xv);
#endif
      }
    }
#endif
  }

  // The row's LANES partial sums of each of the MR outputs.
#if SG
  for (int m = 0; m < MR; ++m) acc[m] = sub_group_reduce_add(acc[m]);
#else
  __local float red[ROWS][MR][LANES];
  for (int m = 0; m < MR; ++m) red[r][m][lane] = acc[m];
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint s = LANES / 2; s > 0; s >>= 1) {
    if (lane < s)
      for (int m = 0; m < MR; ++m) red[r][m][lane] += red[r][m][lane + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  for (int m = 0; m < MR; ++m) acc[m] = red[r][m][0];
#endif
  if (lane == 0 && n < N) {
    const float bv = has_bias ? CPTR(float, bias, b_off)[n] : 0.0f;
    __global float* yb = PTR(float, y, y_off);
    for (int m = 0; m < MR; ++m) yb[(size_t)m * N + n] = acc[m] + bv;
  }
}
