// matmul_rows: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) for a few rows of x (decode), on devices
// where each work-item is a CPU thread (PoCL, and CPUs in general): work-item i streams its own
// contiguous range of weight rows with explicit 16-wide vector arithmetic (CPU OpenCL does not vectorise
// this loop across work-items). W is Q4_0 (WTYPE 3) or Q8_0 (WTYPE 2), re-laid-out (see ClWeightLayout):
// quants [N][NB blocks][16 or 32 bytes], fp16 scales [N][NB]; NB = K / 32 is a build constant. Each row's
// fp16 scales are converted 16 at a time with integer arithmetic (vload_half is emulated in software on
// CPU devices); products are fp32 (x is not quantised). Lessons from PoCL's generated code: private
// arrays indexed in the block loop, and several rows per pass, spill and run at a third of the speed.
// Exact fp16 -> fp32 for 16 values (normals, subnormals and zeros; scales are never inf or NaN).
inline float16 halves_to_floats(ushort16 h) {
  const uint16 u = convert_uint16(h);
  const uint16 sign = (u & (uint16)0x8000u) << 16;
  const uint16 em = u & (uint16)0x7fffu;
  const float16 normal = as_float16(sign | ((em << 13) + (uint16)(112u << 23)));
  const float16 sub = as_float16(sign | as_uint16(convert_float16(em) * 5.9604645e-8f));
  return select(normal, sub, convert_int16(em < (uint16)0x400u));
}

// This row's NB scales as floats.
inline void row_scales(__global const ushort* sc, size_t row, float* ds) {
  for (int b = 0; b < NB; b += 16) {
    ushort16 h;
    if (b + 16 <= NB) {
      h = vload16(0, sc + row * NB + b);
    } else {
      ushort t[16];
      for (int i = 0; i < 16; ++i) t[i] = b + i < NB ? sc[row * NB + b + i] : 0;
      h = vload16(0, t);
    }
    vstore16(halves_to_floats(h), 0, ds + b);
  }
}

inline float hsum16(float16 v) {
  const float8 s8 = v.lo + v.hi;
  const float4 s4 = s8.lo + s8.hi;
  return s4.x + s4.y + s4.z + s4.w;
}

// Sums of the 32 x values of each block (Q4_0: sum((q - 8) x) = sum(q x) - 8 sum(x) per block, so the
// block loop needs no subtraction; the -8 term is one dot product of the row's scales with these sums).
inline void block_sums(__global const float* xr, float* xs) {
  for (int b = 0; b < (NB + 15) / 16 * 16; ++b) {
    xs[b] = 0.0f;
    if (b < NB) {
      const float16 v = vload16(0, xr + b * 32) + vload16(1, xr + b * 32);
      xs[b] = hsum16(v);
    }
  }
}

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
