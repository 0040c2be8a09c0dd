// The vision tower as a graph (spec bluelm-v-3b.md section 1): a SigLIP ViT over a batch of B tiles, the
// 2x2 token downsampler and the MLP projector into the LLM's embedding space.
//   x = patch_embd(tiles) + pos_embd     conv p x p stride p as im2col + matmul; no CLS token
//   per block: x += attn(LN1(x)); x += ffn_down(gelu_tanh(ffn_up(LN2(x))))   full attention
//   vit = post_LN(x)                     [B, n_patches, n_embd]
//   merged = downsample(vit as [B, g, g, n_embd])   2x2 concat, odd grids zero-padded: [B, h*h, 4*n_embd]
//   tokens = fc2(gelu_erf(fc1(LN(merged))))         [B, h*h, proj_dim], LN eps 1e-5
// Tiles are the normalised pixels [B, 3, T, T]; patches that do not fit (T % p rows and columns) are unused.
// Intermediates are named "v.<what>-<layer>" and "mm.<what>" so that pins ("v.patch*=cpu") and dumps
// never collide with the language model's names.
#pragma once

#include "graph/graph.h"
#include "graph/model_weights.h"

#include <memory>
#include <vector>

namespace bluecl {

struct VitHParams {
  int64_t image_size = 0, patch_size = 0;  // tile side T and patch side p, in pixels
  int64_t n_embd = 0, n_ff = 0, n_layer = 0, n_head = 0;
  float eps = 1e-6f;          // every LayerNorm of the ViT
  int64_t proj_dim = 0;       // the LLM's hidden size
  float proj_eps = 1e-5f;     // the projector's LayerNorm (PyTorch's default)
  bool column_major = false;  // VILA's downsampler token order

  int64_t grid() const { return image_size / patch_size; }  // patches per side, g
  int64_t n_patches() const { return grid() * grid(); }
  int64_t head_dim() const { return n_embd / n_head; }
  int64_t merged_grid() const { return (grid() + 1) / 2; }  // h = ceil(g / 2)
  int64_t tokens_per_tile() const { return merged_grid() * merged_grid(); }
  int64_t tile_floats() const { return 3 * image_size * image_size; }
};

struct VitLayerWeights {
  WeightRef ln1_w, ln1_b;
  WeightRef wq, bq, wk, bk, wv, bv, wo, bo;  // [n_embd, n_embd] and [n_embd]
  WeightRef ln2_w, ln2_b;
  WeightRef up_w, up_b, down_w, down_b;  // [n_ff, n_embd], [n_embd, n_ff]
};

struct ProjectorWeights {
  WeightRef norm_w, norm_b;  // [4 * n_embd]
  WeightRef fc1_w, fc1_b;    // [proj_dim, 4 * n_embd]
  WeightRef fc2_w, fc2_b;    // [proj_dim, proj_dim]
};

struct VitWeights {
  WeightRef patch_w;  // the conv weight viewed as [n_embd, 3*p*p], rows in (c, kh, kw) order like im2col
  WeightRef patch_b;  // [n_embd]
  WeightRef pos;      // [n_patches, n_embd]
  std::vector<VitLayerWeights> layers;
  WeightRef post_ln_w, post_ln_b;
  ProjectorWeights proj;
};

// Which part of the tower a graph holds: all of it, or one of the two stages of pipelined encoding (the
// CPU runs the patch embedding of batch k+1 while the device runs the blocks of batch k).
enum class VitPart : uint8_t {
  Whole,       // tiles -> tokens (or features)
  PatchEmbed,  // tiles -> embeddings [B, n_patches, n_embd] (patch conv + position embedding)
  Blocks,      // embeddings -> tokens (or features)
};

struct VitGraphSpec {
  int64_t n_tiles = 1;  // batch size B
  bool project = true;  // false: stop after post_ln and output the ViT features
  VitPart part = VitPart::Whole;
};

struct VitGraph {
  Graph g;
  Tensor tiles;   // input F32 [B, 3, T, T]; for VitPart::Blocks the embeddings [B, n_patches, n_embd]
  Tensor embd;    // output of VitPart::PatchEmbed
  Tensor vit;     // [B, n_patches, n_embd]; an output only without `project`
  Tensor tokens;  // [B, tokens_per_tile, proj_dim] with `project`
  Tensor output() const { return embd ? embd : tokens ? tokens : vit; }
};

std::unique_ptr<VitGraph> build_vit_graph(const VitHParams& hp, const VitWeights& w,
                                          const VitGraphSpec& spec);

// Downsampler and projector over ViT features x [B, n_patches, n_embd]; returns [B, tokens_per_tile,
// proj_dim].
Tensor build_projector(Graph& g, const VitHParams& hp, const ProjectorWeights& w, Tensor x);

}  // namespace bluecl
