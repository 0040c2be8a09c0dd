// Images in a conversation (spec bluelm-v-3b.md sections 1 and 2(a), (b), (f)): encoding an image into the
// LLM's embedding space, and assembling a prompt whose "<image>" markers stand for image embeddings.
//
// Encoding: the image's grid comes from relaxed aspect-ratio matching with the mmproj's tile size,
// max_grid and max_tiles; its tiles (the thumbnail first, then the canvas row by row) are normalised with
// the mmproj's mean/std and go through the vision encoder in its batch size, so that tiles are made for one
// batch while nothing else is held. The result is tile-major: [n_tiles * tokens_per_tile, n_embd].
//
// Prompt assembly: the prompt is split on the literal marker "<image>"; each marker is one image's slot,
// in order. With the chat template the text becomes "[|Human|]:" + prompt + "\n[|AI|]:"; if the prompt has
// no marker but images are given, "<im_start><image><im_end>" is put before the question once per image,
// as in BlueLM's template "[|Human|]:<im_start><image><im_end>{question}\n[|AI|]:". Markers the user
// writes are kept as they are (not wrapped). Each text piece is tokenised on its own (so an SPM vocabulary
// gives it a space prefix, as llama.cpp's multimodal tools do); BOS comes only at the very start; with
// parse_special, "<im_start>", "<im_end>" and other control-token text map to those tokens where the
// vocabulary has them, and stay plain text where it does not. The number of markers must equal the
// number of images (InvalidArgument otherwise).
#pragma once

#include "host/image/grid.h"
#include "host/image/image.h"
#include "host/model/llm_model.h"
#include "host/model/vit_model.h"
#include "host/session/generate.h"
#include "host/session/session.h"
#include "host/session/vision.h"

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bluecl {

inline constexpr std::string_view kImageMarker = "<image>";

struct ImageEmbeddings {
  Grid grid{0, 0};  // 0:0 when the tiles were given directly (no grid known)
  int n_tiles = 0;  // with the thumbnail
  int64_t tokens_per_tile = 0;
  int64_t n_embd = 0;         // the projection size (the LLM's hidden size)
  std::vector<float> tokens;  // [n_tiles * tokens_per_tile, n_embd], tile-major
  int64_t n_tokens() const { return n_tiles * tokens_per_tile; }
};

// Called after each batch with the fraction of tiles encoded; may throw (e.g. Cancelled) to stop.
using EncodeProgress = std::function<void(float fraction)>;

// Encodes a decoded image (grid, tiles, batches as above).
ImageEmbeddings encode_image(VisionEncoder& enc, const VitModel& vit, const Image& img,
                             const EncodeProgress& progress = nullptr);
// Encodes tiles already normalised, [n, 3, T, T] (n >= 1); the grid is left 0:0.
ImageEmbeddings encode_tiles(VisionEncoder& enc, const VitModel& vit, std::span<const float> tiles,
                             const EncodeProgress& progress = nullptr);

// Throws InvalidArgument naming both sizes when the mmproj's projection does not match the LLM's hidden
// size (the pair cannot be used together).
void check_projection(const VitModel& vit, const LlmModel& llm);

// A piece of a split prompt: text (possibly empty) or one image slot.
struct PromptPiece {
  std::string text;
  bool image = false;
};
// Splits on kImageMarker: text pieces and image slots alternate in the prompt's order; empty text between
// adjacent markers (and at the ends) is left out.
std::vector<PromptPiece> split_prompt(std::string_view prompt);
size_t count_image_markers(std::string_view prompt);

struct PromptOptions {
  bool chat = false;          // wrap in BlueLM's template (and place markers for marker-less prompts)
  bool add_bos = true;        // BOS first (when the vocabulary asks for it): the session is empty
  bool parse_special = true;  // control-token text ("<im_start>", "<s>") maps to those tokens
  bool image_markers = true;  // false: "<image>" is plain text (text-only prompts of a model with no
                              // vision tower); then n_images must be 0
};

// The prompt text after the chat template (and the markers it places), before splitting.
std::string apply_template(std::string_view prompt, size_t n_images, bool chat);

// A tokenised multimodal prompt: runs of text tokens and image slots, in order.
struct PromptChunk {
  std::vector<int32_t> tokens;  // text (empty for an image slot)
  int image = -1;               // index into the images (the i-th marker is image i), or -1 for text
};
std::vector<PromptChunk> tokenize_prompt(const Tokenizer& tok, std::string_view prompt, size_t n_images,
                                         const PromptOptions& opt);

struct FeedResult {
  int64_t n_tokens = 0;           // text and image tokens fed
  std::vector<int32_t> text_ids;  // the text tokens, in order (for the sampler's history)
  double ms = 0;                  // wall time
};

// Feeds the chunks to the session in order: text with prefill, images with prefill_embd. Checks every
// image's embedding size against the LLM and the total against the context before feeding anything; a
// failure while feeding leaves the session as it was before (Session::rewind).
FeedResult feed_prompt(Session& s, const LlmModel& llm, const std::vector<PromptChunk>& chunks,
                       std::span<const ImageEmbeddings* const> images);

// Feeds the prompt, then runs the generation loop; n_prompt counts text and image tokens.
GenerateResult generate_multimodal(Session& s, const LlmModel& llm, const std::vector<PromptChunk>& chunks,
                                   std::span<const ImageEmbeddings* const> images, const GenerateParams& p);

}  // namespace bluecl
