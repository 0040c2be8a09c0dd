#include "graph/llm.h"

#include "graph/base/error.h"

#include <cmath>

namespace bluecl {

namespace {

Tensor weight_or_none(Graph& g, const WeightRef& w) {
  return w ? w.add_to(g) : Tensor{};
}

// Self-attention of one layer over the KV cache; returns [n_tok, n_embd].
Tensor build_attn(Graph& g, const LlmHParams& hp, const LlmLayerWeights& L, Tensor h, Tensor k_cache,
                  Tensor v_cache, int64_t n_tok, int il) {
  const int64_t hd = hp.head_dim(), n_ctx = g.shape(k_cache)[0];
  Tensor q =
      g.matmul(h, L.wq.add_to(g), weight_or_none(g, L.bq), fmt::format("q-{}", il));  // [n_tok, n_head*hd]
  Tensor k =
      g.matmul(h, L.wk.add_to(g), weight_or_none(g, L.bk), fmt::format("k-{}", il));  // [n_tok, n_head_kv*hd]
  Tensor v = g.matmul(h, L.wv.add_to(g), weight_or_none(g, L.bv), fmt::format("v-{}", il));
  const RopeAttr rope{hp.rope_mode, static_cast<int32_t>(hp.n_rot), hp.rope_theta};
  q = g.rope(g.reshape(q, {n_tok, hp.n_head, hd}), rope,
             fmt::format("q_rope-{}", il));  // [n_tok, n_head, hd]
  k = g.rope(g.reshape(k, {n_tok, hp.n_head_kv, hd}), rope,
             fmt::format("k_rope-{}", il));  // [n_tok, n_head_kv, hd]
  v = g.reshape(v, {n_tok, hp.n_head_kv, hd});
  Tensor kc = g.kv_write(k, k_cache, fmt::format("k_cache_w-{}", il));  // [n_ctx, n_head_kv, hd]
  Tensor vc = g.kv_write(v, v_cache, fmt::format("v_cache_w-{}", il));
  const AttentionAttr at{.scale = 1.0f / std::sqrt(static_cast<float>(hd)), .causal = true, .kv_cache = true};
  Tensor a = g.attention(g.reshape(q, {1, n_tok, hp.n_head, hd}), g.reshape(kc, {1, n_ctx, hp.n_head_kv, hd}),
                         g.reshape(vc, {1, n_ctx, hp.n_head_kv, hd}), at,
                         fmt::format("attn-{}", il));  // [1, n_tok, n_head*hd]
  return g.matmul(g.reshape(a, {n_tok, hp.n_head * hd}), L.wo.add_to(g), {}, fmt::format("attn_out-{}", il));
}

// SwiGLU feed-forward; returns [n_tok, n_embd]. Gate, up and the activation are one op (one pass over x
// and both weights in decode) when the two weights have the same type.
Tensor build_ffn(Graph& g, const LlmLayerWeights& L, Tensor h, int il) {
  Tensor act;
  if (L.gate.dtype == L.up.dtype) {
    act = g.swiglu(h, L.gate.add_to(g), L.up.add_to(g), fmt::format("ffn_act-{}", il));  // [n_tok, n_ff]
  } else {
    Tensor gate = g.matmul(h, L.gate.add_to(g), {}, fmt::format("ffn_gate-{}", il));  // [n_tok, n_ff]
    Tensor up = g.matmul(h, L.up.add_to(g), {}, fmt::format("ffn_up-{}", il));
    act = g.silu_mul(gate, up, fmt::format("ffn_act-{}", il));
  }
  return g.matmul(act, L.down.add_to(g), {}, fmt::format("ffn_out-{}", il));  // [n_tok, n_embd]
}

}  // namespace

std::unique_ptr<LlmGraph> build_llm_graph(const LlmHParams& hp, const LlmWeights& w,
                                          const LlmGraphSpec& spec) {
  BLUECL_ASSERT(static_cast<int64_t>(w.layers.size()) == hp.n_layer, "{} layer weights for {} layers",
                w.layers.size(), hp.n_layer);
  auto out = std::make_unique<LlmGraph>();
  Graph& g = out->g;
  const int64_t n = spec.n_tok, hd = hp.head_dim();

  Tensor x;
  if (spec.embd_input) {
    out->tokens = g.input("inp_embd", DType::F32, {n, hp.n_embd});
    x = out->tokens;
  } else {
    out->tokens = g.input("inp_tokens", DType::I32, {n});
    x = g.get_rows(w.tok_embd.add_to(g), out->tokens, "inp_embd");  // [n, n_embd]
  }
  if (hp.embd_norm)
    x = g.layer_norm(x, w.embd_norm_w.add_to(g), w.embd_norm_b.add_to(g), hp.rms_eps, "embd_norm");

  for (int il = 0; il < hp.n_layer; ++il) {
    const LlmLayerWeights& L = w.layers[il];
    out->k_cache.push_back(
        g.state(fmt::format("cache_k-{}", il), spec.kv_type, {spec.n_ctx, hp.n_head_kv, hd}));
    out->v_cache.push_back(
        g.state(fmt::format("cache_v-{}", il), spec.kv_type, {spec.n_ctx, hp.n_head_kv, hd}));
    Tensor h = g.rms_norm(x, L.attn_norm.add_to(g), hp.rms_eps, fmt::format("attn_norm-{}", il));
    Tensor a = build_attn(g, hp, L, h, out->k_cache.back(), out->v_cache.back(), n, il);
    x = g.add(x, a, fmt::format("attn_res-{}", il));
    h = g.rms_norm(x, L.ffn_norm.add_to(g), hp.rms_eps, fmt::format("ffn_norm-{}", il));
    x = g.add(x, build_ffn(g, L, h, il), fmt::format("l_out-{}", il));  // [n, n_embd]
  }
  if (!spec.all_logits && n > 1) x = g.rows(x, n - 1, 1, "last_tok");  // [1, n_embd]
  x = g.rms_norm(x, w.out_norm.add_to(g), hp.rms_eps, "out_norm");
  out->logits = g.matmul(x, w.output.add_to(g), {}, "logits");  // [1 or n, n_vocab]
  g.mark_output(out->logits);
  return out;
}

}  // namespace bluecl
