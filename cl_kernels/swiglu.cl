// swiglu: y[m, n] = silu(sum_k x[m, k] Wg[n, k]) * sum_k x[m, k] Wu[n, k] for MR <= 4 rows of x (decode):
// the gate and up projections of a SwiGLU feed-forward and its activation in one launch, one pass over both
// weight rows that loads each piece of x once for the two of them, writing only y. x [MR, K] f32, y [MR, N]
// f32; Wg and Wu [N, K] of one type as matmul reads them (WTYPE 0 F32, 1 F16, 2 Q8_0, 3 Q4_0; quantised
// weights re-laid-out into quants and fp16 scales, see ClWeightLayout). More rows of x run as two matmuls
// and silu_mul (backend/cl/ops/swiglu.cpp).
//
// swiglu_vec (GPUs; matmul_vec.cl's scheme, LANES set): work-group (LANES, ROWS), ROWS outputs n per group,
// LANES work-items per n; lane l reads 16-byte chunks l, l + LANES, ... of both Wg[n] and Wu[n], so
// consecutive work-items read consecutive chunks of a row. Each lane keeps 2 * MR partial sums, added up
// with sub_group_reduce_add when SG (a required subgroup of exactly LANES) or by a tree in local memory
// (ROWS * 2 * MR * LANES floats, <= 8 KiB at 256 work-items). Global (LANES, ceil(N / ROWS) * ROWS).
//
// swiglu_rows (CPU devices, Q4_0/Q8_0; matmul_rows.cl's scheme, NB = K / 32 set): work-item i streams its own
// outputs [i * rows_per_item, ...), both weight rows in one loop over the blocks with 16-wide vectors; the
// rows' scales (and for Q4_0 the block sums of x) in private arrays. Groups of one work-item.
#ifndef MR
#define MR 1
#endif
#ifndef SG
#define SG 0
#endif

inline float silu_times(float g, float u) { return g / (1.0f + exp(-g)) * u; }

#ifdef LANES
#if WTYPE < 3
// Chunk c of weight row n (F32, F16, Q8_0 times its block's scale), zero past K.
inline VEC load_w(__global const uchar* w, ulong q_off, ulong s_off, uint n, uint c, uint K) {
#if WTYPE == 2
  const float d = vload_half(n * (K / 32) + c / 2, CPTR(half, w, s_off));
  return convert_float16(vload16(c, CPTR(char, w, q_off) + (size_t)n * K)) * d;
#elif WTYPE == 1
  __global const half* wr = CPTR(half, w, q_off) + (size_t)n * K;
  if (c * 8 + 8 <= K) return vload_half8(c, wr);
  float t[8];
  for (uint i = 0; i < 8; ++i) t[i] = c * 8 + i < K ? vload_half(c * 8 + i, wr) : 0.0f;
  return vload8(0, t);
#else
  __global const float* wr = CPTR(float, w, q_off) + (size_t)n * K;
  if (c * 4 + 4 <= K) return vload4(c, wr);
  float t[4];
  for (uint i = 0; i < 4; ++i) t[i] = c * 4 + i < K ? wr[c * 4 + i] : 0.0f;
  return vload4(0, t);
#endif
}
#endif

#if SG
__attribute__((intel_reqd_sub_group_size(LANES)))
#endif
__kernel __attribute__((reqd_work_group_size(LANES, ROWS, 1)))
void swiglu_vec(__global const float* x, ulong x_off, __global const uchar* wg, ulong wgq_off, ulong wgs_off,
                __global const uchar* wu, ulong wuq_off, ulong wus_off, __global float* y, ulong y_off, uint N,
                uint K) {
  const uint lane = get_local_id(0), r = get_local_id(1);
  const uint n = get_group_id(1) * ROWS + r;
  __global const float* xb = CPTR(float, x, x_off);
  float acc[2 * MR];  // gate sums, then up sums
  for (int m = 0; m < 2 * MR; ++m) acc[m] = 0.0f;
  if (n < N) {
#if WTYPE == 3
    const uint nb = K / 32;
    __global const half* sg = CPTR(half, wg, wgs_off) + (size_t)n * nb;
    __global const half* su = CPTR(half, wu, wus_off) + (size_t)n * nb;
    __global const uchar* qg = CPTR(uchar, wg, wgq_off) + (size_t)n * nb * 16;
    __global const uchar* qu = CPTR(uchar, wu, wuq_off) + (size_t)n * nb * 16;
    for (uint c = lane; c < nb; c += LANES) {
      const uchar16 a = vload16(c, qg), b = vload16(c, qu);
      const float dg = vload_half(c, sg), du = vload_half(c, su);
      const float16 glo = convert_float16(a & (uchar16)0x0f) - 8.0f, ghi = convert_float16(a >> (uchar16)4) - 8.0f;
      const float16 ulo = convert_float16(b & (uchar16)0x0f) - 8.0f, uhi = convert_float16(b >> (uchar16)4) - 8.0f;
      for (int m = 0; m < MR; ++m) {
        float16 xl, xh;
        load_x(xb + (size_t)m * K, c, K, &xl, &xh);
        acc[m] = fma(dg, hsum_vec(fma(glo, xl, ghi * xh)), acc[m]);
        acc[MR + m] = fma(du, hsum_vec(fma(ulo, xl, uhi * xh)), acc[MR + m]);
      }
    }
#else
#if WTYPE == 2
    const uint n_chunks = K / 16;
#elif WTYPE == 1
    const uint n_chunks = (K + 7) / 8;
#else
    const uint n_chunks = (K + 3) / 4;
#endif
    for (uint c = lane; c < n_chunks; c += LANES) {
      const VEC gv = load_w(wg, wgq_off, wgs_off, n, c, K), uv = load_w(wu, wuq_off, wus_off, n, c, K);
      for (int m = 0; m < MR; ++m) {
        const VEC xv = load_x(xb + (size_t)m * K, c, K);
        acc[m] += hsum_vec(gv * xv);
        acc[MR + m] += hsum_vec(uv * xv);
      }
    }
#endif
  }

#if SG
  for (int m = 0; m < 2 * MR; ++m) acc[m] = sub_group_reduce_add(acc[m]);
#else
  __local float red[ROWS][2 * MR][LANES];
  for (int m = 0; m < 2 * MR; ++m) red[r][m][lane] = acc[m];
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint s = LANES / 2; s > 0; s >>= 1) {
    if (lane < s)
      for (int m = 0; m < 2 * MR; ++m) red[r][m][lane] += red[r][m][lane + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  for (int m = 0; m < 2 * MR; ++m) acc[m] = red[r][m][0];
#endif
  if (lane == 0 && n < N) {
    __global float* yb = PTR(float, y, y_off);
    for (int m = 0; m < MR; ++m) yb[(size_t)m * N + n] = silu_times(acc[m], acc[MR + m]);
  }
}
#endif  // LANES

#ifdef NB
__kernel void swiglu_rows(__global const float* x, ulong x_off, __global const uchar* wg, ulong wgq_off, ulong wgs_off,
                          __global const uchar* wu, ulong wuq_off, ulong wus_off, __global float* y, ulong y_off,
                          uint M, uint N, uint K, uint rows_per_item) {
  const uint r0 = get_global_id(0) * rows_per_item;
  const uint r1 = min(N, r0 + rows_per_item);
  __global const float* xb = CPTR(float, x, x_off);
  __global const ushort* scg = CPTR(ushort, wg, wgs_off);
  __global const ushort* scu = CPTR(ushort, wu, wus_off);
  __global float* yb = PTR(float, y, y_off);
  float dg[(NB + 15) / 16 * 16], du[(NB + 15) / 16 * 16];
#if WTYPE == 3
  float xs[(NB + 15) / 16 * 16];
#endif
  for (uint m = 0; m < M; ++m) {
    __global const float* xr = xb + (size_t)m * K;
#if WTYPE == 3
    block_sums(xr, xs);
#endif
    for (uint row = r0; row < r1; ++row) {
      row_scales(scg, row, dg);
      row_scales(scu, row, du);
      // Four accumulators (gate and up, even and odd blocks), so no FMA waits on the one before it.
      float16 ag = (float16)0.0f, au = (float16)0.0f, ag1 = (float16)0.0f, au1 = (float16)0.0f;
      int b = 0;
#pragma unroll 1
      for (; b + 1 < NB; b += 2) {
        ag = fma(block_dot(wg, wgq_off, row, b, xr), (float16)dg[b], ag);
        au = fma(block_dot(wu, wuq_off, row, b, xr), (float16)du[b], au);
        ag1 = fma(block_dot(wg, wgq_off, row, b + 1, xr), (float16)dg[b + 1], ag1);
        au1 = fma(block_dot(wu, wuq_off, row, b + 1, xr), (float16)du[b + 1], au1);
      }
      if (b < NB) {
        ag = fma(block_dot(wg, wgq_off, row, b, xr), (float16)dg[b], ag);
        au = fma(block_dot(wu, wuq_off, row, b, xr), (float16)du[b], au);
      }
      ag += ag1;
      au += au1;
#if WTYPE == 3
      // sum((q - 8) x) = sum(q x) - 8 sum(x) per block (see matmul_rows.cl)
      float16 cg = (float16)0.0f, cu = (float16)0.0f;
      for (int b = 0; b < NB; b += 16) {
        cg = fma(vload16(0, dg + b), vload16(0, xs + b), cg);
        cu = fma(vload16(0, du + b), vload16(0, xs + b), cu);
      }
      ag = fma(cg, (float16)-8.0f, ag);
      au = fma(cu, (float16)-8.0f, au);
#endif
      yb[(size_t)m * N + row] = silu_times(hsum16(ag), hsum16(au));
    }
  }
}
#endif  // NB
