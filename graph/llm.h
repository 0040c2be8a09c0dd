// The Llama-style decoder (and BlueLM's variant with a LayerNorm on the token embeddings) as a graph for
// one chunk of n_tok tokens appended after n_past cached ones (Step::n_past):
//   x = embed(tokens)            or the caller's embeddings (image tokens)
//   x = layer_norm(x)            bluelm only
//   per layer: x += attn(rms_norm(x)); x += ffn(rms_norm(x))
//   logits = output(rms_norm(x)) for the last token, or for every token
#pragma once

#include "graph/graph.h"
#include "graph/model_weights.h"

#include <memory>
#include <optional>
#include <vector>

namespace bluecl {

struct LlmHParams {
  int64_t n_vocab = 0, n_ctx_train = 0, n_embd = 0, n_ff = 0, n_layer = 0, n_head = 0, n_head_kv = 0;
  int64_t n_rot = 0;  // rotated dims per head (default: head dim)
  float rms_eps = 1e-6f, rope_theta = 10000.0f;
  RopeMode rope_mode = RopeMode::Adjacent;
  bool embd_norm = false;  // bluelm: LayerNorm(eps = rms_eps) on the token embeddings
  int64_t head_dim() const { return n_embd / n_head; }
};

struct LlmLayerWeights {
  WeightRef attn_norm, wq, wk, wv, wo, bq, bk, bv;  // biases optional (Qwen-style files)
  WeightRef ffn_norm, gate, up, down;
};

struct LlmWeights {
  WeightRef tok_embd, embd_norm_w, embd_norm_b, out_norm, output;  // output may alias tok_embd (tied)
  std::vector<LlmLayerWeights> layers;
};

struct LlmGraphSpec {
  int64_t n_tok = 1;
  int64_t n_ctx = 2048;  // KV cache rows
  DType kv_type = DType::F16;
  bool embd_input = false;  // the input is embeddings [n_tok, n_embd] instead of token ids
  bool all_logits = false;  // logits for every token instead of the last
};

struct LlmGraph {
  Graph g;
  Tensor tokens;                         // I32 [n_tok], or F32 [n_tok, n_embd] with embd_input
  Tensor logits;                         // [1 or n_tok, n_vocab]
  std::vector<Tensor> k_cache, v_cache;  // per layer, state [n_ctx, n_head_kv, head_dim]
};

std::unique_ptr<LlmGraph> build_llm_graph(const LlmHParams& hp, const LlmWeights& w,
                                          const LlmGraphSpec& spec);

}  // namespace bluecl
