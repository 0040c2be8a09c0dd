// Encoding image tiles with a vision tower (spec bluelm-v-3b.md sections 1 and 2(b)): N normalised tiles
// [N, 3, T, T] become N groups of projected image tokens [N, tokens_per_tile, proj_dim], tile-major, ready
// to be spliced into the LLM's input embeddings.
//
// Tiles run through the ViT in fixed-size batches (default 4, the paper's best): N = 9 runs as 4 + 4 + 1.
// One graph is built, scheduled and planned per batch size (and per output kind) on first use, then
// replayed. Each tile is computed independently, so the result does not depend on the batch size.
// An encoder is used by one thread at a time.
#pragma once

#include "graph/vit.h"
#include "host/model/llm_model.h"
#include "host/model/vit_model.h"
#include "host/runtime/devices.h"
#include "host/runtime/executor.h"

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace bluecl {

// How batches go through the tower (spec section 2(c)):
//   Off     the whole tower per batch, one batch after the other
//   Serial  two stages per batch, patch embedding on the CPU then the blocks where placed, one batch after
//           the other: the reference for Pipelined (identical results)
//   On      the same two stages overlapped: the CPU cuts and normalises the tiles of batch k+1 and runs
//           their patch embedding while the device runs the blocks of batch k
//   Auto    On when the blocks run (at least partly) off the CPU, else Off
enum class VisionPipeline : uint8_t { Auto, Off, Serial, On };

struct VisionParams {
  int64_t batch = 4;  // tiles per ViT run (a device-tuned parameter)
  VisionPipeline pipeline = VisionPipeline::Auto;
};

// Fills the normalised tiles first .. first+count-1 ([count, 3, T, T] floats) into dst; called on the
// CPU stage's thread when pipelining.
using TileSource = std::function<void(int64_t first, int64_t count, float* dst)>;

class VisionEncoder {
 public:
  // Throws InvalidArgument for a batch size outside 1..64.
  VisionEncoder(const VitModel& model, Devices& devices, const VisionParams& params = {});
  ~VisionEncoder();

  // tiles: n * 3 * T * T floats (n >= 1); out: n * tokens_per_tile * proj_dim floats.
  // Throws InvalidArgument when the sizes do not fit.
  void encode(std::span<const float> tiles, std::span<float> out);
  // n tiles from a source, in batches; out: n * tokens_per_tile * proj_dim floats. progress(done) after
  // each batch (on the calling thread; it may throw to cancel).
  void encode(int64_t n, const TileSource& source, float* out,
              const std::function<void(int64_t done)>& progress = nullptr);
  std::vector<float> encode(std::span<const float> tiles);
  // The ViT features after the post LayerNorm, before downsampler and projector: [n, n_patches, n_embd].
  std::vector<float> encode_vit(std::span<const float> tiles);

  int64_t batch() const { return batch_; }
  // Whether batches are pipelined (Auto resolved: builds the blocks' graph to see where it runs).
  bool pipelined();
  int64_t tokens_per_tile() const { return model_.hparams().tokens_per_tile(); }
  int64_t n_tiles(std::span<const float> tiles) const;  // throws InvalidArgument if not whole tiles
  std::string plan_text(int64_t n_tiles);  // the placement plan of the graph for a batch of n_tiles
  // Frees the devices' copies of the vision weights (the image is encoded; spec section 2(f)). The
  // encoder stays usable: a later encode uploads them again.
  void release_weights();

 private:
  struct Step;
  Step& step_for(int64_t n_tiles, bool project, VitPart part);
  void run(int64_t n, const TileSource& source, bool project, float* out, int64_t per_tile,
           const std::function<void(int64_t)>& progress);
  void run_split(int64_t n, const TileSource& source, bool project, float* out, int64_t per_tile,
                 const std::function<void(int64_t)>& progress, bool overlap);
  std::string device_track();

  const VitModel& model_;
  Devices& devices_;
  int64_t batch_;
  VisionPipeline pipeline_;
  std::map<std::tuple<int64_t, bool, VitPart>, std::unique_ptr<Step>> steps_;
};

// The LLM's input embeddings of text tokens: rows of token_embd dequantised on the host, [n, n_embd].
// Used to build a multimodal sequence (text embeddings around image tokens) for Session::prefill_embd.
// Throws InvalidArgument for an id outside the vocabulary.
std::vector<float> token_embeddings(const LlmModel& llm, std::span<const int32_t> ids);

}  // namespace bluecl
