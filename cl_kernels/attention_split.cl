// attention_split: the attention of attention.cl (same tensors and formula) for a few queries over a long
// KV cache (decode), written for GPUs: the keys are split into ranges of SPLIT keys, one work-group per
// (range, KV head, batch), and a second kernel merges the ranges' partial softmaxes.
// q [B, nq, H, HD] f32; k, v [B, n_rows, Hkv, HD] of KTYPE (0 F32, 1 F16, 2 Q8_0 in GGUF blocks along HD);
// y [B, nq, H, HD] f32; keys 0 .. past + nq - 1; with CAUSAL query i sees keys j <= past + i.
//
// attention_split: a work-group of NT work-items takes the QN = nq * G queries of a GQA group (the G query
// heads that share one KV head), so every K and V row is read once for all of them. Its q vectors sit in
// local memory; work-item t scores keys t, t + NT, ... of the range against every query; the softmax
// statistics of each query over the range are reduced in local memory; then the work-items take (query,
// float4 chunk) pairs and sum p * V over the range (consecutive work-items read consecutive chunks of a V
// row). Output per (batch, KV head, range, query): the unnormalised sum (HD floats), the max and the sum
// of exponentials, in `part`. Local memory: QN * (HD + SPLIT + 2) floats.
// attention_merge: one work-group of HD / 4 work-items per (batch, query, head) rescales and adds the
// ranges' sums. Globals: split (NT * n_splits, Hkv, B); merge (HD / 4, nq * H, B).
// Remainders are written as x - (x / y) * y: LLVM otherwise pairs the division and the remainder with a
// `freeze` instruction that Oclgrind's uninitialised-value checker cannot execute.
#define NC (HD / 4)


// Query r of a GQA group: query index r / G, head hk * G + r % G.
__kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void attention_split(__global const float* q, ulong q_off, __global const uchar* k, ulong k_off,
                     __global const uchar* v, ulong v_off, __global float* part, uint nq, uint H, uint Hkv,
                     uint n_rows, int past, float scale, uint n_splits) {
  __local float4 qs[QN * NC];
  __local float ps[QN * SPLIT];
  __local float stat[QN * 2];
  const uint t = get_local_id(0), s = get_group_id(0), hk = get_global_id(1), b = get_global_id(2);
  const uint G = H / Hkv;
  const uint n_kv = past + nq;
  const uint j0 = s * SPLIT, j1 = min(n_kv, j0 + SPLIT);
  __global const uchar* kb = k + k_off;
  __global const uchar* vb = v + v_off;
  for (uint e = t; e < QN * NC; e += NT) {
    const uint r = e / NC, c = e - r * NC;
    const uint i = r / G, h = hk * G + (r - i * G);
    qs[e] = vload4(c, CPTR(float, q, q_off) + (((size_t)b * nq + i) * H + h) * HD) * scale;
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint j = j0 + t; j < j0 + SPLIT; j += NT) {
    float sc[QN];
    for (int r = 0; r < QN; ++r) sc[r] = -INFINITY;
    if (j < j1) {
      float4 d4[QN];
      for (int r = 0; r < QN; ++r) d4[r] = (float4)0.0f;
      const size_t row = (((size_t)b * n_rows + j) * Hkv + hk) * HD;
      for (uint c = 0; c < NC; ++c) {
        const float4 kv = load_kv4(kb, row + 4 * c);
        for (int r = 0; r < QN; ++r) d4[r] = fma(qs[r * NC + c], kv, d4[r]);
      }
      for (int r = 0; r < QN; ++r) {
        sc[r] = (d4[r].x + d4[r].y) + (d4[r].z + d4[r].w);
#if CAUSAL
        if (j > (uint)past + r / G) sc[r] = -INFINITY;
#endif
      }
    }
    for (int r = 0; r < QN; ++r) ps[r * SPLIT + (j - j0)] = sc[r];
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  // Max and sum of exponentials per query over the range (one work-item per query: SPLIT values each).
  for (uint r = t; r < QN; r += NT) {
    float mx = -INFINITY;
    for (uint j = 0; j < SPLIT; ++j) mx = fmax(mx, ps[r * SPLIT + j]);
    float sum = 0.0f;
    for (uint j = 0; j < SPLIT; ++j) {
      const float p = mx == -INFINITY ? 0.0f : exp(ps[r * SPLIT + j] - mx);
      ps[r * SPLIT + j] = p;
      sum += p;
    }
    stat[2 * r] = mx;
    stat[2 * r + 1] = sum;
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  __global float* pb = part + (((size_t)b * Hkv + hk) * n_splits + s) * QN * (HD + 2);
  for (uint e = t; e < QN * NC; e += NT) {
    const uint r = e / NC, c = e - r * NC;
    float4 acc = (float4)0.0f;
    for (uint j = j0; j < j1; ++j) {
      const float p = ps[r * SPLIT + (j - j0)];
      if (p != 0.0f) acc = fma((float4)p, load_kv4(vb, (((size_t)b * n_rows + j) * Hkv + hk) * HD + 4 * c), acc);
    }
    vstore4(acc, c, pb + r * (HD + 2));
  }
  for (uint r = t; r < QN; r += NT) {
    pb[r * (HD + 2) + HD] = stat[2 * r];
    pb[r * (HD + 2) + HD + 1] = stat[2 * r + 1];
  }
}

__kernel void attention_merge(__global const float* part, __global float* y, ulong y_off, uint nq, uint H, uint Hkv,
                              uint n_splits) {
  const uint c = get_global_id(0), ih = get_global_id(1), b = get_global_id(2);
  if (c >= NC) return;
  const uint i = ih / H, h = ih - i * H, G = H / Hkv, hk = h / G, r = i * G + (h - hk * G);
  __global const float* pb = part + ((size_t)b * Hkv + hk) * n_splits * QN * (HD + 2) + r * (HD + 2);
  const size_t stride = (size_t)QN * (HD + 2);
  float mx = -INFINITY;
  for (uint s = 0; s < n_splits; ++s) mx = fmax(mx, pb[s * stride + HD]);
  float l = 0.0f;
  float4 acc = (float4)0.0f;
  for (uint s = 0; s < n_splits; ++s) {
    const float ms = pb[s * stride + HD];
    if (ms == -INFINITY) continue;
    const float f = exp(ms - mx);
    l = fma(pb[s * stride + HD + 1], f, l);
    acc = fma(vload4(c, pb + s * stride), (float4)f, acc);
  }
  vstore4(acc / l, c, PTR(float, y, y_off) + (((size_t)b * nq + i) * H + h) * HD);
}
