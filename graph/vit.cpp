// The SigLIP ViT, downsampler and projector graph (contract in graph/vit.h).
#include "graph/vit.h"

#include "graph/base/error.h"

#include <cmath>

namespace bluecl {

namespace {

// The tower's matmuls keep their activations precise (int8 weights, fp16-or-better activations, as the
// paper runs it): 8-bit activations through 27 blocks leave ~1% error in the image tokens.
constexpr MatMulAttr kPrecise{.precise = true};

// Full (non-causal) self-attention over each tile's patches; returns [B, n, n_embd].
Tensor build_attn(Graph& g, const VitHParams& hp, const VitLayerWeights& L, Tensor h, int il) {
  const Shape& s = g.shape(h);
  const int64_t B = s[0], n = s[1], H = hp.n_head, hd = hp.head_dim();
  Tensor q =
      g.matmul(h, L.wq.add_to(g), L.bq.add_to(g), fmt::format("v.q-{}", il), kPrecise);  // [B, n, n_embd]
  Tensor k = g.matmul(h, L.wk.add_to(g), L.bk.add_to(g), fmt::format("v.k-{}", il), kPrecise);
  Tensor v = g.matmul(h, L.wv.add_to(g), L.bv.add_to(g), fmt::format("v.v-{}", il), kPrecise);
  const AttentionAttr at{
      .scale = 1.0f / std::sqrt(static_cast<float>(hd)), .causal = false, .kv_cache = false};
  Tensor a = g.attention(g.reshape(q, {B, n, H, hd}), g.reshape(k, {B, n, H, hd}),  // [B, n, H, hd] each
                         g.reshape(v, {B, n, H, hd}), at, fmt::format("v.attn-{}", il));  // [B, n, H*hd]
  return g.matmul(a, L.wo.add_to(g), L.bo.add_to(g), fmt::format("v.attn_out-{}", il),
                  kPrecise);  // [B, n, n_embd]
}

// MLP with the tanh GELU; returns [B, n, n_embd].
Tensor build_ffn(Graph& g, const VitLayerWeights& L, Tensor h, int il) {
  Tensor u = g.matmul(h, L.up_w.add_to(g), L.up_b.add_to(g), fmt::format("v.ffn_up-{}", il),
                      kPrecise);  // [B, n, n_ff]
  u = g.gelu(u, GeluMode::Tanh, fmt::format("v.ffn_act-{}", il));
  return g.matmul(u, L.down_w.add_to(g), L.down_b.add_to(g), fmt::format("v.ffn_out-{}", il),
                  kPrecise);  // [B, n, n_embd]
}

}  // namespace

Tensor build_projector(Graph& g, const VitHParams& hp, const ProjectorWeights& w, Tensor x) {
  const int64_t B = g.shape(x)[0], gs = hp.grid();
  BLUECL_ASSERT(g.shape(x) == (Shape{B, hp.n_patches(), hp.n_embd}), "projector input {}", g.shape(x).str());
  x = g.reshape(x, {B, gs, gs, hp.n_embd});                 // [B, g, g, n_embd]: the patch grid, row-major
  Tensor m = g.downsample(x, hp.column_major, "mm.merge");  // [B, h*h, 4*n_embd]
  m = g.layer_norm(m, w.norm_w.add_to(g), w.norm_b.add_to(g), hp.proj_eps, "mm.norm");
  m = g.matmul(m, w.fc1_w.add_to(g), w.fc1_b.add_to(g), "mm.fc1", kPrecise);  // [B, h*h, proj_dim]
  m = g.gelu(m, GeluMode::Erf, "mm.act");
  return g.matmul(m, w.fc2_w.add_to(g), w.fc2_b.add_to(g), "mm.tokens", kPrecise);  // [B, h*h, proj_dim]
}

std::unique_ptr<VitGraph> build_vit_graph(const VitHParams& hp, const VitWeights& w,
                                          const VitGraphSpec& spec) {
  BLUECL_ASSERT(static_cast<int64_t>(w.layers.size()) == hp.n_layer, "{} layer weights for {} layers",
                w.layers.size(), hp.n_layer);
  BLUECL_ASSERT(spec.n_tiles >= 1, "batch of {} tiles", spec.n_tiles);
  auto out = std::make_unique<VitGraph>();
  Graph& g = out->g;
  const int64_t B = spec.n_tiles, T = hp.image_size;

  Tensor x;
  if (spec.part == VitPart::Blocks) {
    out->tiles = x = g.input("v.embd", DType::F32, {B, hp.n_patches(), hp.n_embd});
  } else {
    out->tiles = g.input("v.tiles", DType::F32, {B, 3, T, T});
    x = g.im2col(out->tiles, static_cast<int32_t>(hp.patch_size), "v.patches");  // [B, n_patches, 3*p*p]
    x = g.matmul(x, w.patch_w.add_to(g), w.patch_b.add_to(g), "v.patch_embd",
                 kPrecise);                       // [B, n_patches, n_embd]
    x = g.add(x, w.pos.add_to(g), "v.pos_embd");  // the [n_patches, n_embd] table over every tile
    if (spec.part == VitPart::PatchEmbed) {
      out->embd = x;
      g.mark_output(x);
      return out;
    }
  }

  for (int il = 0; il < hp.n_layer; ++il) {
    const VitLayerWeights& L = w.layers[il];
    Tensor h = g.layer_norm(x, L.ln1_w.add_to(g), L.ln1_b.add_to(g), hp.eps, fmt::format("v.ln1-{}", il));
    x = g.add(x, build_attn(g, hp, L, h, il), fmt::format("v.attn_res-{}", il));
    h = g.layer_norm(x, L.ln2_w.add_to(g), L.ln2_b.add_to(g), hp.eps, fmt::format("v.ln2-{}", il));
    x = g.add(x, build_ffn(g, L, h, il), fmt::format("v.l_out-{}", il));  // [B, n_patches, n_embd]
  }
  out->vit = g.layer_norm(x, w.post_ln_w.add_to(g), w.post_ln_b.add_to(g), hp.eps, "v.post_ln");

  if (spec.project) {
    out->tokens = build_projector(g, hp, w.proj, out->vit);
    g.mark_output(out->tokens);
  } else {
    g.mark_output(out->vit);
  }
  return out;
}

}  // namespace bluecl
