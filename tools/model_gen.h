// Random-weight model files for benchmarks and tests: a language model GGUF (architecture "llama" or
// "bluelm") and optionally a vision mmproj GGUF (SigLIP-style ViT + bluelm_v projector), both in the
// exact layout of shared/spec/model-format.md, so every loader and every compute stage runs for real.
// The weights are random, so the text they produce is meaningless.
//
// Determinism: every value is a function of (seed, tensor name, row, column) alone, so the bytes do not
// depend on write order or thread count, and the F32/F16/Q8_0/Q4_0 files of one shape and seed hold the
// same underlying values at different precisions.
// Streaming: tensors are produced while the file is written (GgufWriter's fill callback), so at most
// one tensor's bytes are in memory at a time.
#pragma once

#include "graph/dtype.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bluecl::gen {

// The language model. Matrices use `type`; token_embd and output use `embd_type` (Q8_0 when `type` is
// Q4_0, like the golden files and llama.cpp's Q4_0 conversions; otherwise `type`). Norm weights and
// biases are F32. A matrix whose rows cannot be cut into `type`'s blocks is written as F16.
struct LlmShape {
  std::string arch = "llama";  // "llama" or "bluelm" (adds the embedding LayerNorm)
  int64_t n_embd = 128;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 2;
  int64_t n_ff = 352;
  int64_t n_ctx = 2048;
  float rms_eps = 1e-6f;
  float rope_theta = 10000.0f;
  DType type = DType::Q8_0;
  DType embd_type = DType::Q8_0;
};

// The vision tower and projector. Matrices use `type` (F32, F16 or Q8_0; a matrix whose rows are not a
// whole number of blocks, such as SigLIP's FFN-down with 4304 inputs, is written as F16); the patch
// convolution, norms, biases and the position embedding are F32.
struct VitShape {
  int64_t n_embd = 96;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_ff = 160;
  int64_t image_size = 98;
  int64_t patch_size = 14;
  float eps = 1e-6f;
  DType type = DType::Q8_0;
  int64_t n_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};

struct GenProgress {
  std::string_view file;  // the path being written
  int64_t tensor = 0;     // tensors finished in this file (1-based after each one)
  int64_t n_tensors = 0;
  uint64_t bytes = 0;  // tensor bytes finished in this file
  uint64_t total_bytes = 0;
};

struct GenOptions {
  LlmShape llm;
  std::optional<VitShape> vit;  // set: also write the mmproj
  std::string out;              // the language model file
  std::string mmproj_out;       // required when `vit` is set
  std::string vocab;            // a GGUF whose tokenizer.ggml.* keys are copied (n_vocab = its size)
  uint64_t seed = 42;
  bool force = false;                                // overwrite existing files
  int n_threads = 0;                                 // 0: all cores
  std::function<void(const GenProgress&)> progress;  // after each tensor
};

// A preset's shapes: "tiny" (llama, hidden 128, 2 layers, Q8_0; vision: hidden 96, 2 blocks, image 98),
// "bluelm-3b" (bluelm, hidden 2560, 32 layers, 20 heads, FFN 6912, Q4_0) and "bluelm-v-3b" (the same
// LLM plus SigLIP-400M: hidden 1152, 27 blocks, 16 heads, FFN 4304, image 384, patch 14, Q8_0).
// Throws InvalidArgument naming the presets for an unknown name.
GenOptions preset(std::string_view name);
// The vision tower that goes with a preset (for --vision): tiny's, or SigLIP-400M for the 3B presets.
VitShape preset_vision(std::string_view name);
std::vector<std::string> preset_names();

// "f32", "f16", "q8_0", "q4_0" (case-insensitive); throws InvalidArgument otherwise.
DType parse_type(std::string_view s);

// Checks the shapes (positive, heads divide the hidden size, blocks fit) and the paths: throws
// InvalidArgument with the reason. Called by generate().
void validate(const GenOptions& opt);

struct GenFileReport {
  std::string path;
  int64_t n_tensors = 0;
  uint64_t n_params = 0;
  uint64_t file_bytes = 0;
  std::vector<std::string> f16_fallbacks;  // matrices written as F16 because their rows do not fit blocks
};

// Writes the language model (and the mmproj when opt.vit is set). Refuses (InvalidArgument) to replace
// an existing file unless opt.force; each file appears complete or not at all.
std::vector<GenFileReport> generate(const GenOptions& opt);

}  // namespace bluecl::gen
