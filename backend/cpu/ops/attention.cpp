// y[b, i, h*hd + d] = sum_j softmax_j(scale * q[b,i,h] . k[b,j,h/g]) v[b,j,h/g,d], g = H / Hkv.
// With a KV cache the keys are rows 0 .. n_past + nq - 1 of the cache and query i sits at n_past + i;
// without, past = nkv - nq. A causal query at position p sees keys j <= p.
// K and V rows may be F32, F16 or Q8_0 (blocks along head_dim). This file is the exact reference (double
// scores and sums); CpuPrecision::Fast runs attention_fast.cpp.
#include "backend/cpu/ops/ops.h"

#include "graph/base/error.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace bluecl::cpu {

void attention(const OpArgs& a) {
  if (a.fast) return attention_fast(a);
  attention_reference(a);
}

void attention_reference(const OpArgs& a) {
  const Shape& qs = a.in(0).shape;
  const Shape& ks = a.in(1).shape;
  const AttentionAttr& at = a.n.a<AttentionAttr>();
  const int64_t B = qs[0], nq = qs[1], H = qs[2], hd = qs[3];
  const int64_t Hkv = ks[2], group = H / Hkv;
  const int64_t past = at.kv_cache ? a.step.n_past : ks[1] - nq;
  const int64_t n_kv = past + nq;
  if (n_kv > ks[1]) fail(Status::ContextFull, "attention over {} keys, but the cache holds {}", n_kv, ks[1]);
  const DType kt = a.in(1).dtype;
  const size_t kv_row = dtype_bytes(kt, hd);        // one head of one position
  const size_t kv_pos = dtype_bytes(kt, Hkv * hd);  // one position
  const auto* K = static_cast<const uint8_t*>(a.src[1]);
  const auto* V = static_cast<const uint8_t*>(a.src[2]);
  const float* q = a.f(0);
  float* y = a.y();

  a.pool.parallel_for(B * H * nq, [&](int64_t i0, int64_t i1, int) {
    std::vector<double> score(n_kv), acc(hd);
    std::vector<float> row(hd);
    auto load = [&](const uint8_t* base, int64_t b, int64_t j, int64_t hk) -> const float* {
      const uint8_t* p = base + (b * ks[1] + j) * kv_pos + hk * kv_row;
      if (kt == DType::F32) return reinterpret_cast<const float*>(p);
      dequantize_row(kt, p, row.data(), hd);
      return row.data();
    };
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t b = it / (H * nq), h = (it / nq) % H, i = it % nq, hk = h / group;
      const float* qr = q + ((b * nq + i) * H + h) * hd;
      const int64_t visible = at.causal ? past + i + 1 : n_kv;
      double mx = -INFINITY;
      for (int64_t j = 0; j < visible; ++j) {
        const float* kr = load(K, b, j, hk);
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d) dot += static_cast<double>(qr[d]) * kr[d];
        score[j] = dot * at.scale;
        mx = std::max(mx, score[j]);
      }
      double sum = 0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j < visible; ++j) {
        const double p = std::exp(score[j] - mx);
        sum += p;
        const float* vr = load(V, b, j, hk);
        for (int64_t d = 0; d < hd; ++d) acc[d] += p * vr[d];
      }
      float* yr = y + ((b * nq + i) * H + h) * hd;
      for (int64_t d = 0; d < hd; ++d) yr[d] = static_cast<float>(acc[d] / sum);
    }
  });
}

}  // namespace bluecl::cpu
