// attention_flash: the attention of attention.cl (same tensors and formula) for many queries (prefill, the
// ViT), written for GPUs: a block of BQ queries of one head per work-group, K and V walked in tiles of BK
// keys staged in local memory, online softmax.
// q [B, nq, H, HD] f32; k, v [B, n_rows, Hkv, HD] of KTYPE (0 F32, 1 F16, 2 Q8_0 in GGUF blocks along HD);
// y [B, nq, H, HD] f32; keys 0 .. past + nq - 1; with CAUSAL query i sees keys j <= past + i.
//
// Work-group (LPQ, BQ): LPQ work-items per query, each owning the float4 chunks c = lane + LPQ * t of the
// head dim (NC = HD / 4 chunks, NC % LPQ == 0) of q and of the output accumulator. Per tile: the group
// loads BK rows of K and V (dequantised to f32; consecutive work-items read consecutive chunks), each lane
// writes its partial dot products with the BK keys to local memory, then every lane of a query adds the
// LPQ partials, rescales its accumulator by the new running max and adds p * V for its chunks.
// Local memory: 2 * BK * HD + BQ * LPQ * BK floats (HD 128, BK 16, BQ 16, LPQ 4: 20 KiB).
// Global = (LPQ, ceil(nq / BQ) * BQ, H * B).
// Remainders are written as x - (x / y) * y: LLVM otherwise pairs the division and the remainder with a
// `freeze` instruction that Oclgrind's uninitialised-value checker cannot execute.
#define NC (HD / 4)
#define CPL (NC / LPQ)


__kernel __attribute__((reqd_work_group_size(LPQ, BQ, 1)))
void attention_flash(__global const float* q, ulong q_off, __global const uchar* k, ulong k_off,
                     __global const uchar* v, ulong v_off, __global float* y, ulong y_off, uint nq, uint H,
                     uint Hkv, uint n_rows, int past, float scale) {
  __local float4 kt[BK * NC], vt[BK * NC];
  __local float part[BQ * LPQ * BK];
  const uint lane = get_local_id(0), qr = get_local_id(1), tid = qr * LPQ + lane;
  const uint b = get_global_id(2) / H, h = get_global_id(2) - b * H;
  const uint q0 = get_group_id(1) * BQ, i = min(q0 + qr, nq - 1);
  const uint hk = h / (H / Hkv);
  const uint n_kv = past + nq;
#if CAUSAL
  const uint j_end = min(n_kv, (uint)past + min(q0 + BQ, nq));
  const uint j_last = (uint)past + i;  // this query's last visible key
#else
  const uint j_end = n_kv;
  const uint j_last = n_kv - 1;
#endif
  __global const uchar* kb = k + k_off;
  __global const uchar* vb = v + v_off;

  float4 qv[CPL], acc[CPL];
  __global const float* qp = CPTR(float, q, q_off) + (((size_t)b * nq + i) * H + h) * HD;
  for (int t = 0; t < CPL; ++t) {
    qv[t] = vload4(lane + LPQ * t, qp) * scale;
    acc[t] = (float4)0.0f;
  }
  float m = -INFINITY, l = 0.0f;

  for (uint j0 = 0; j0 < j_end; j0 += BK) {
    for (uint e = tid; e < BK * NC; e += LPQ * BQ) {
      const uint jr = e / NC, c = e - jr * NC, j = j0 + jr;
      float4 kv = (float4)0.0f, vv = (float4)0.0f;
      if (j < j_end) {
        const size_t row = (((size_t)b * n_rows + j) * Hkv + hk) * HD + 4 * c;
        kv = load_kv4(kb, row);
        vv = load_kv4(vb, row);
      }
      kt[e] = kv;
      vt[e] = vv;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint jr = 0; jr < BK; ++jr) {
      float4 d4 = (float4)0.0f;
      for (int t = 0; t < CPL; ++t) d4 = fma(qv[t], kt[jr * NC + lane + LPQ * t], d4);
      part[(qr * LPQ + lane) * BK + jr] = (d4.x + d4.y) + (d4.z + d4.w);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    // The tile's scores of this query (every lane of the query computes the same ones).
    float tile_max = -INFINITY;
    for (uint jr = 0; jr < BK; ++jr) {
      float s = 0.0f;
      for (int ln = 0; ln < LPQ; ++ln) s += part[(qr * LPQ + ln) * BK + jr];
      if (j0 + jr <= j_last && j0 + jr < j_end) tile_max = fmax(tile_max, s);
    }
    if (tile_max > -INFINITY) {
      const float m_new = fmax(m, tile_max);
      const float corr = exp(m - m_new);  // 0 on the first visible tile (m = -inf)
      l *= corr;
      for (int t = 0; t < CPL; ++t) acc[t] *= corr;
      m = m_new;
      for (uint jr = 0; jr < BK; ++jr) {
        if (j0 + jr > j_last || j0 + jr >= j_end) continue;
        float s = 0.0f;
        for (int ln = 0; ln < LPQ; ++ln) s += part[(qr * LPQ + ln) * BK + jr];
        const float p = exp(s - m);
        l += p;
        for (int t = 0; t < CPL; ++t) acc[t] = fma((float4)p, vt[jr * NC + lane + LPQ * t], acc[t]);
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (q0 + qr < nq) {
    __global float* yp = PTR(float, y, y_off) + (((size_t)b * nq + q0 + qr) * H + h) * HD;
    const float inv = 1.0f / l;
    for (int t = 0; t < CPL; ++t) vstore4(acc[t] * inv, lane + LPQ * t, yp);
  }
}
