// matmul_rows: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) for a few rows of x (decode), on devices
// where each work-item is a CPU thread (PoCL, and CPUs in general): work-item i streams its own
// contiguous range of weight rows with explicit 16-wide vector arithmetic (CPU OpenCL does not vectorise
// this loop across work-items). W is Q4_0 (WTYPE 3) or Q8_0 (WTYPE 2), re-laid-out (see ClWeightLayout):
// quants [N][NB blocks][16 or 32 bytes], fp16 scales [N][NB]; NB = K / 32 is a build constant. Each row's
// fp16 scales are converted 16 at a time with integer arithmetic (vload_half is emulated in software on
// CPU devices); products are fp32 (x is not quantised). Lessons from PoCL's generated code: private
// arrays indexed in the block loop, and several rows per pass, spill and run at a third of the speed.
// halves_to_floats, row_scales, hsum16, block_sums and block_dot: common.cl (NB).
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
      // Two accumulators, even and odd blocks: one would chain every block's FMA on the last one's
      // latency (4 cycles on current x86 cores), which bounds this loop below the memory bandwidth.
      float16 acc = (float16)0.0f, acc1 = (float16)0.0f;
      int b = 0;
#pragma unroll 1
      for (; b + 1 < NB; b += 2) {
        acc = fma(block_dot(w, wq_off, row, b, xr), (float16)ds[b], acc);
        acc1 = fma(block_dot(w, wq_off, row, b + 1, xr), (float16)ds[b + 1], acc1);
      }
      if (b < NB) acc = fma(block_dot(w, wq_off, row, b, xr), (float16)ds[b], acc);
      acc += acc1;
#if WTYPE == 3
      float16 corr = (float16)0.0f;
      for (int b = 0; b < NB; b += 16) corr = fma(vload16(0, ds + b), vload16(0, xs + b), corr);
      acc = fma(corr, (float16)-8.0f, acc);
#endif
      yb[(size_t)m * N + row] = hsum16(acc) + (has_bias ? bb[row] : 0.0f);
    }
  }
}
