// Encoding image tiles with a vision tower (spec bluelm-v-3b.md sections 1 and 2(b)): N normalised tiles
// [N, 3, T, T] become N groups of projected image tokens [N, tokens_per_tile, proj_dim], tile-major, ready
// to be spliced into the LLM's input embeddings.
//
// Tiles run through the ViT in fixed-size batches (default 4, the paper's best): N = 9 runs as 4 + 4 + 1.
// One graph is built, scheduled and planned per batch size (and per output kind) on first use, then
// replayed. Each tile is computed independently, so the result does not depend on the batch size.
// An encoder is used by one thread at a time.
#pragma once

#include "host/devices.h"
#include "host/executor.h"
#include "host/llm_model.h"
#include "host/vit_model.h"

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace bluecl {

struct VisionParams {
  int64_t batch = 4;  // tiles per ViT run (a device-tuned parameter)
};

class VisionEncoder {
 public:
  // Throws InvalidArgument for a batch size outside 1..64.
  VisionEncoder(const VitModel& model, Devices& devices, const VisionParams& params = {});
  ~VisionEncoder();

  // tiles: n * 3 * T * T floats (n >= 1); out: n * tokens_per_tile * proj_dim floats.
  // Throws InvalidArgument when the sizes do not fit.
  void encode(std::span<const float> tiles, std::span<float> out);
  std::vector<float> encode(std::span<const float> tiles);
  // The ViT features after the post LayerNorm, before downsampler and projector: [n, n_patches, n_embd].
  std::vector<float> encode_vit(std::span<const float> tiles);

  int64_t batch() const { return batch_; }
  int64_t tokens_per_tile() const { return model_.hparams().tokens_per_tile(); }
  int64_t n_tiles(std::span<const float> tiles) const;  // throws InvalidArgument if not whole tiles
  std::string plan_text(int64_t n_tiles);  // the placement plan of the graph for a batch of n_tiles
  // Frees the devices' copies of the vision weights (the image is encoded; spec section 2(f)). The
  // encoder stays usable: a later encode uploads them again.
  void release_weights();

 private:
  struct Step;
  Step& step_for(int64_t n_tiles, bool project);
  void run(std::span<const float> tiles, bool project, float* out, int64_t per_tile);

  const VitModel& model_;
  Devices& devices_;
  int64_t batch_;
  std::map<std::pair<int64_t, bool>, std::unique_ptr<Step>> steps_;
};

// The LLM's input embeddings of text tokens: rows of token_embd dequantised on the host, [n, n_embd].
// Used to build a multimodal sequence (text embeddings around image tokens) for Session::prefill_embd.
// Throws InvalidArgument for an id outside the vocabulary.
std::vector<float> token_embeddings(const LlmModel& llm, std::span<const int32_t> ids);

}  // namespace bluecl
