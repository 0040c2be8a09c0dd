// attention: y[b, i, h*HD + d] = sum_j softmax_j(scale * q[b,i,h,:] . k[b,j,hk,:]) v[b,j,hk,d], hk = h / group.
// q [B, nq, H, HD] f32; k, v [B, n_rows, Hkv, HD] of KTYPE (0 F32, 1 F16, 2 Q8_0 in GGUF blocks along HD).
// Keys 0 .. past + nq - 1 are used (past = n_past with a KV cache, else n_rows - nq); with CAUSAL, query i
// (position past + i) sees keys j <= past + i.
// Each work-item owns QB consecutive queries of one head and streams the keys once for all of them, with
// an online (running max) softmax, so any sequence length works in O(HD) private memory per query.
// Global = (ceil(nq / QB), H, B).


__kernel void attention(__global const float* q, ulong q_off, __global const uchar* k, ulong k_off,
                        __global const uchar* v, ulong v_off, __global float* y, ulong y_off, uint nq, uint H,
                        uint Hkv, uint n_rows, int past, float scale) {
  const uint qb = get_global_id(0), h = get_global_id(1), b = get_global_id(2);
  const uint i0 = qb * QB;
  if (i0 >= nq) return;
  const uint hk = h / (H / Hkv);
  const uint n_kv = past + nq;
  __global const uchar* kb = k + k_off;
  __global const uchar* vb = v + v_off;

  float4 qv[QB][HD / 4], acc[QB][HD / 4];
  float m[QB], l[QB];
  for (int t = 0; t < QB; ++t) {
    const uint i = min(i0 + t, nq - 1);
    __global const float* qr = CPTR(float, q, q_off) + (((size_t)b * nq + i) * H + h) * HD;
    for (int c = 0; c < HD / 4; ++c) {
      qv[t][c] = vload4(c, qr) * scale;
      acc[t][c] = (float4)0.0f;
    }
    m[t] = -INFINITY;
    l[t] = 0.0f;
  }
#if CAUSAL
  const uint j_end = min(n_kv, (uint)past + min(i0 + QB, nq));
#else
  const uint j_end = n_kv;
#endif
  for (uint j = 0; j < j_end; ++j) {
    const size_t row = (((size_t)b * n_rows + j) * Hkv + hk) * HD;
    float4 kr[HD / 4];
    for (int c = 0; c < HD / 4; ++c) kr[c] = load_kv4(kb, row + 4 * c);
    float s[QB];
    for (int t = 0; t < QB; ++t) {
      float4 dot4 = (float4)0.0f;
      for (int c = 0; c < HD / 4; ++c) dot4 = fma(qv[t][c], kr[c], dot4);
      s[t] = dot4.x + dot4.y + dot4.z + dot4.w;
#if CAUSAL
      if (j > (uint)past + i0 + t) s[t] = -INFINITY;
#endif
    }
    for (int c = 0; c < HD / 4; ++c) kr[c] = load_kv4(vb, row + 4 * c);  // now V's row
    for (int t = 0; t < QB; ++t) {
      if (s[t] == -INFINITY) continue;
      if (s[t] > m[t]) {
        const float corr = exp(m[t] - s[t]);
        l[t] *= corr;
        for (int c = 0; c < HD / 4; ++c) acc[t][c] *= corr;
        m[t] = s[t];
      }
      const float p = exp(s[t] - m[t]);
      l[t] += p;
      for (int c = 0; c < HD / 4; ++c) acc[t][c] = fma((float4)p, kr[c], acc[t][c]);
    }
  }
  for (int t = 0; t < QB; ++t) {
    const uint i = i0 + t;
    if (i >= nq) break;
    __global float* yr = PTR(float, y, y_off) + (((size_t)b * nq + i) * H + h) * HD;
    const float inv = 1.0f / l[t];
    for (int c = 0; c < HD / 4; ++c) vstore4(acc[t][c] * inv, c, yr);
  }
}
