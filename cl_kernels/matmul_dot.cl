// matmul_dot: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) with 8-bit activations and integer dot products
// (cl_khr_integer_dot_product), for many rows of x (prefill); W is Q8_0 (WTYPE 2) or Q4_0 (WTYPE 3),
// re-laid-out (quants, then fp16 scales; see ClWeightLayout). K is a multiple of 32.
//
// quantize_rows: x [M, K] f32 -> xq [M, K] int8 and xd [M, K / 32] f32, per 32-value block
// d = max|x| / 127, q = round(x / d) (llama.cpp's Q8_0 activations, as the CPU fast path). One work-item
// per (block, row). Global = (K / 32, M).
//
// matmul_dot: the tiling of matmul_tile.cl (a BM x BN tile of y per work-group of (BN / TN, BM / TM), TM x
// TN outputs per work-item, strided so neighbouring work-items read neighbouring local words), K in
// blocks of 32: the group stages the block's 8 packed words of its BM rows of xq and of its BN rows of W
// (Q4_0 nibbles turned into signed bytes q - 8) with both scales in local memory, each work-item adds 8
// dot_4x8packed_ss_int per output into an int, then scales it by d_x * d_w into its float accumulator.
// Local memory: 8 * (BM + BN) words + (BM + BN) floats. Global as matmul_tile.
#pragma OPENCL EXTENSION cl_khr_integer_dot_product : enable
#define NT (WX * WY)

__kernel void quantize_rows(__global const float* x, ulong x_off, __global uchar* q, ulong xq_off, ulong xd_off,
                            uint K) {
  __global char* xq = PTR(char, q, xq_off);
  __global float* xd = PTR(float, q, xd_off);
  const uint b = get_global_id(0), m = get_global_id(1);
  __global const float* xr = CPTR(float, x, x_off) + (size_t)m * K + b * 32;
  const float16 v0 = vload16(0, xr), v1 = vload16(1, xr);
  const float16 a = fmax(fabs(v0), fabs(v1));
  const float8 a8 = fmax(a.lo, a.hi);
  const float4 a4 = fmax(a8.lo, a8.hi);
  const float amax = fmax(fmax(a4.x, a4.y), fmax(a4.z, a4.w));
  const float d = amax / 127.0f, inv = d > 0.0f ? 1.0f / d : 0.0f;
  __global char* qr = xq + (size_t)m * K + b * 32;
  vstore16(convert_char16_sat_rte(v0 * inv), 0, qr);
  vstore16(convert_char16_sat_rte(v1 * inv), 1, qr);
  xd[(size_t)m * (K / 32) + b] = d;
}

__kernel __attribute__((reqd_work_group_size(WX, WY, 1)))
void matmul_dot(__global const uchar* q, ulong xq_off, ulong xd_off, __global const uchar* w, ulong wq_off,
                ulong ws_off, __global const float* bias, ulong b_off, __global float* y, ulong y_off, uint M, uint N,
                uint K, int has_bias) {
  __local uint xt[8 * BM];  // xt[word * BM + m]: 4 packed int8 of x
  __local uint wt[8 * BN];  // wt[word * BN + n]: 4 packed int8 of W
  __local float xs[BM], wsc[BN];
  const uint tx = get_local_id(0), ty = get_local_id(1), tid = ty * WX + tx;
  const uint m0 = get_group_id(1) * BM, n0 = get_group_id(0) * BN;
  const uint nb = K / 32;
  __global const char* xq = CPTR(char, q, xq_off);
  __global const float* xd = CPTR(float, q, xd_off);
  float acc[TM][TN];
  for (int i = 0; i < TM; ++i)
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
  for (uint blk = 0; blk < nb; ++blk) {
    for (uint e = tid; e < BM * 8; e += NT) {
      const uint r = e / 8, c = e - r * 8;
      xt[c * BM + r] = m0 + r < M ? ((__global const uint*)(xq + ((size_t)(m0 + r) * K + blk * 32)))[c] : 0u;
    }
    for (uint r = tid; r < BM; r += NT) xs[r] = m0 + r < M ? xd[(size_t)(m0 + r) * nb + blk] : 0.0f;
#if WTYPE == 3
    for (uint e = tid; e < BN * 4; e += NT) {
      const uint r = e / 4, c = e - r * 4;
      uint lo = 0, hi = 0;
      if (n0 + r < N) {
        const uint qw = ((__global const uint*)(CPTR(uchar, w, wq_off) + ((size_t)(n0 + r) * nb + blk) * 16))[c];
        // Nibbles 0..15 to signed bytes q - 8, four at a time without borrows between bytes.
        lo = (((qw & 0x0f0f0f0fu) | 0x80808080u) - 0x08080808u) ^ 0x80808080u;
        hi = ((((qw >> 4) & 0x0f0f0f0fu) | 0x80808080u) - 0x08080808u) ^ 0x80808080u;
      }
      wt[c * BN + r] = lo;
      wt[(4 + c) * BN + r] = hi;
    }
#else
    for (uint e = tid; e < BN * 8; e += NT) {
      const uint r = e / 8, c = e - r * 8;
      wt[c * BN + r] =
          n0 + r < N ? ((__global const uint*)(CPTR(char, w, wq_off) + (size_t)(n0 + r) * K + blk * 32))[c] : 0u;
    }
#endif
    for (uint r = tid; r < BN; r += NT)
      wsc[r] = n0 + r < N ? vload_half((size_t)(n0 + r) * nb + blk, CPTR(half, w, ws_off)) : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    int isum[TM][TN];
    for (int i = 0; i < TM; ++i)
      for (int j = 0; j < TN; ++j) isum[i][j] = 0;
    for (uint c = 0; c < 8; ++c) {
      uint a[TM], b[TN];
      for (int i = 0; i < TM; ++i) a[i] = xt[c * BM + ty + i * WY];
      for (int j = 0; j < TN; ++j) b[j] = wt[c * BN + tx + j * WX];
      for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) isum[i][j] += dot_4x8packed_ss_int(a[i], b[j]);
    }
    for (int i = 0; i < TM; ++i)
      for (int j = 0; j < TN; ++j) acc[i][j] = fma((float)isum[i][j], xs[ty + i * WY] * wsc[tx + j * WX], acc[i][j]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  store_tile(PTR(float, y, y_off), CPTR(float, bias, b_off), has_bias, m0 + ty, n0 + tx, M, N, acc);
}
