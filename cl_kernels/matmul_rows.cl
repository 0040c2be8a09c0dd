// matmul_rows: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) for a few rows of x (decode), on devices
// where each work-item is a CPU thread (PoCL, and CPUs in general): work-item i streams its own
// contiguous range of weight rows with explicit 16-wide vector arithmetic (CPU OpenCL does not vectorise
// this loop across work-items). W is Q4_0 (WTYPE 3) or Q8_0 (WTYPE 2), re-laid-out (see ClWeightLayout):
// quants [N][NB blocks][16 or 32 bytes], fp16 scales [N][NB]; NB = K / 32 is a build constant. Each row's
// fp16 scales are converted 16 at a time with integer arithmetic (vload_half is emulated in software on
// CPU devices); products are fp32 (x is not quantised). Lessons from PoCL's generated code: private
// arrays indexed in the block loop, and several rows per pass, spill and run at a third of the speed.
// halves_to_floats, row_scales, hsum16 and block_sums: common.cl (NB).
__kernel void matmul_rows(__global const float* x, ulong x_off, __global const uchar* w, ulong wq_off, ulong ws_off,
                          __global const float* bias, ulong b_off, __global float* y, ulong y_off, uint M, uint N,
                          uint K, int has_bias, uint rows_per_item) {
  const uint r0 = get_global_id(0) * rows_per_item;
  const uint r1 = min(N, r0 + rows_per_item);
  __global const float* xb = CPTR(float, x, x_off);
  __global const ushort* sc = CPTR(ushort, w, ws_off);
  __global const float* bb = CPTR(float, bias, b_off);
  __global float* yb = PTR(float, y, y_off);
  float ds[(NB + 15) / 16 * 16];
#if WTYPE == 3
  float xs[(NB + 15) / 16 * 16];
#endif
  for (uint m = 0; m < M; ++m) {
    __global const float* xr = xb + (size_t)m * K;
#if WTYPE == 3
    block_sums(xr, xs);
#endif
    for (uint row = r0; row < r1; ++row) {
      row_scales(sc, row, ds);
      float16 acc = (float16)0.0f;
#pragma unroll 1
      for (int b = 0; b < NB; ++b) {
        const float16 xl = vload16(0, xr + b * 32), xh = vload16(1, xr + b * 32);
#if WTYPE == 3
        const uchar16 q = vload16(b, CPTR(uchar, w, wq_off) + (size_t)row * NB * 16);
        const float16 t = convert_float16(q & (uchar16)0x0f) * xl + convert_float16(q >> (uchar16)4) * xh;
#else
        __global const char* qrow = CPTR(char, w, wq_off) + (size_t)row * NB * 32;
        const float16 t = convert_float16(vload16(2 * b, qrow)) * xl + convert_float16(vload16(2 * b + 1, qrow)) * xh;
#endif
        acc = fma(t, (float16)ds[b], acc);
      }
#if WTYPE == 3
      float16 corr = (float16)0.0f;
      for (int b = 0; b < NB; b += 16) corr = fma(vload16(0, ds + b), vload16(0, xs + b), corr);
      acc = fma(corr, (float16)-8.0f, acc);
#endif
      yb[(size_t)m * N + row] = hsum16(acc) + (has_bias ? bb[row] : 0.0f);
    }
  }
}
