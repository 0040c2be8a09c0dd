// Image encoding and multimodal prompt assembly (contract in host/session/multimodal.h).
#include "host/session/multimodal.h"

#include "graph/base/error.h"
#include "graph/base/log.h"
#include "host/image/tiles.h"

#include <algorithm>
#include <chrono>

namespace bluecl {

namespace {

// Runs n tiles through the encoder (in batches, pipelined where it pays); tiles_of fills a batch's tiles.
ImageEmbeddings encode_batches(VisionEncoder& enc, const VitModel& vit, int n_tiles,
                               const TileSource& tiles_of, const EncodeProgress& progress) {
  const VitHParams& hp = vit.hparams();
  ImageEmbeddings e;
  e.n_tiles = n_tiles;
  e.tokens_per_tile = hp.tokens_per_tile();
  e.n_embd = hp.proj_dim;
  e.tokens.resize(static_cast<size_t>(n_tiles * e.tokens_per_tile * e.n_embd));
  enc.encode(n_tiles, tiles_of, e.tokens.data(), [&](int64_t done) {
    if (progress) progress(float(done) / float(n_tiles));
  });
  return e;
}

}  // namespace

ImageEmbeddings encode_image(VisionEncoder& enc, const VitModel& vit, const Image& img,
                             const EncodeProgress& progress) {
  const GridOptions go = vit.grid_options();
  const TileOptions to = vit.tile_options();
  const Grid grid = select_grid_relaxed(img.width, img.height, go);
  const TiledImage tiled = prepare_tiles(img, grid, go.tile);
  ImageEmbeddings e = encode_batches(
      enc, vit, tiled.n_tiles(),
      [&](int64_t first, int64_t count, float* dst) {
        make_tiles_range(tiled, to, static_cast<int>(first), static_cast<int>(count), dst);
      },
      progress);
  e.grid = grid;
  log(LogLevel::Debug, "vision", "image {}x{}: grid {}:{}, {} tiles, {} tokens", img.width, img.height,
      grid.m, grid.n, e.n_tiles, e.n_tokens());
  return e;
}

ImageEmbeddings encode_tiles(VisionEncoder& enc, const VitModel& vit, std::span<const float> tiles,
                             const EncodeProgress& progress) {
  const int64_t n = enc.n_tiles(tiles);  // throws for a partial tile
  if (n > 4096) fail(Status::InvalidArgument, "{} tiles are too many for one image", n);
  const size_t per = static_cast<size_t>(vit.hparams().tile_floats());
  return encode_batches(
      enc, vit, static_cast<int>(n),
      [&](int64_t first, int64_t count, float* dst) {
        std::copy_n(tiles.data() + first * per, count * per, dst);
      },
      progress);
}

void check_projection(const VitModel& vit, const LlmModel& llm) {
  const int64_t proj = vit.hparams().proj_dim, hidden = llm.hparams().n_embd;
  if (proj != hidden)
    fail(Status::InvalidArgument,
         "the vision tower projects to {} dimensions but the language model's hidden size is {}: this mmproj "
         "does not belong to this model",
         proj, hidden);
}

size_t count_image_markers(std::string_view prompt) {
  size_t n = 0;
  for (size_t at = prompt.find(kImageMarker); at != std::string_view::npos;
       at = prompt.find(kImageMarker, at + kImageMarker.size()))
    ++n;
  return n;
}

std::vector<PromptPiece> split_prompt(std::string_view prompt) {
  std::vector<PromptPiece> out;
  for (;;) {
    const size_t at = prompt.find(kImageMarker);
    const std::string_view text = prompt.substr(0, at);
    if (!text.empty()) out.push_back({std::string(text), false});
    if (at == std::string_view::npos) break;
    out.push_back({"", true});
    prompt.remove_prefix(at + kImageMarker.size());
  }
  return out;
}

std::string apply_template(std::string_view prompt, size_t n_images, bool chat) {
  if (!chat) return std::string(prompt);
  std::string user;
  if (n_images > 0 && count_image_markers(prompt) == 0)
    for (size_t i = 0; i < n_images; ++i) user += "<im_start><image><im_end>";
  user += prompt;
  return chat_prompt(user);
}

std::vector<PromptChunk> tokenize_prompt(const Tokenizer& tok, std::string_view prompt, size_t n_images,
                                         const PromptOptions& opt) {
  const std::string text = apply_template(prompt, opt.image_markers ? n_images : 0, opt.chat);
  std::vector<PromptPiece> pieces;
  if (opt.image_markers) {
    const size_t n_markers = count_image_markers(text);
    if (n_markers != n_images)
      fail(Status::InvalidArgument,
           "the prompt has {} {} marker{} for {} image{}: put one {} where each image goes{}", n_markers,
           kImageMarker, n_markers == 1 ? "" : "s", n_images, n_images == 1 ? "" : "s", kImageMarker,
           opt.chat ? "" : " (or use the chat template, which places them itself when the prompt has none)");
    pieces = split_prompt(text);
  } else {
    if (n_images != 0) fail(Status::InvalidArgument, "{} images given but image markers are off", n_images);
    if (!text.empty()) pieces.push_back({text, false});
  }

  std::vector<PromptChunk> out;
  auto text_chunk = [&]() -> std::vector<int32_t>& {
    if (out.empty() || out.back().image >= 0) out.push_back({});
    return out.back().tokens;
  };
  // BOS once, at the very start, whatever comes first; EOS (add_eos vocabularies) never mid-prompt.
  const Vocab& v = tok.vocab();
  if (opt.add_bos && v.add_bos && v.bos >= 0) text_chunk().push_back(v.bos);
  int image = 0;
  for (const PromptPiece& p : pieces) {
    if (p.image) {
      out.push_back({{}, image++});
      continue;
    }
    const std::vector<int32_t> ids = tok.encode(p.text, false, opt.parse_special);
    if (!ids.empty()) {
      std::vector<int32_t>& dst = text_chunk();
      dst.insert(dst.end(), ids.begin(), ids.end());
    }
  }
  return out;
}

FeedResult feed_prompt(Session& s, const LlmModel& llm, const std::vector<PromptChunk>& chunks,
                       std::span<const ImageEmbeddings* const> images) {
  const int64_t n_embd = llm.hparams().n_embd;
  FeedResult r;
  for (const PromptChunk& c : chunks) {
    if (c.image < 0) {
      r.n_tokens += static_cast<int64_t>(c.tokens.size());
      continue;
    }
    BLUECL_ASSERT(static_cast<size_t>(c.image) < images.size(), "image slot {} of {} images", c.image,
                  images.size());
    const ImageEmbeddings* e = images[c.image];
    if (!e) fail(Status::InvalidArgument, "image {} is missing", c.image);
    if (e->n_embd != n_embd)
      fail(Status::InvalidArgument,
           "image {} has {}-dimensional embeddings but the language model's hidden size is {}", c.image,
           e->n_embd, n_embd);
    BLUECL_ASSERT(e->tokens.size() == static_cast<size_t>(e->n_tokens() * e->n_embd), "image {}: {} floats",
                  c.image, e->tokens.size());
    r.n_tokens += e->n_tokens();
  }
  if (s.n_past() + r.n_tokens > s.n_ctx())
    fail(Status::ContextFull,
         "the prompt's {} tokens (text and images) after {} would exceed the context of {}", r.n_tokens,
         s.n_past(), s.n_ctx());

  const auto t0 = std::chrono::steady_clock::now();
  // A failure in any piece (a device error) takes the session back to before the prompt, so that the
  // same prompt may be fed again.
  Session::Mark before = s.mark();
  try {
    for (const PromptChunk& c : chunks) {
      if (c.image >= 0) {
        s.prefill_embd(images[c.image]->tokens);
      } else if (!c.tokens.empty()) {
        s.prefill(c.tokens);
        r.text_ids.insert(r.text_ids.end(), c.tokens.begin(), c.tokens.end());
      }
    }
  } catch (...) {
    s.rewind(std::move(before));
    throw;
  }
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

GenerateResult generate_multimodal(Session& s, const LlmModel& llm, const std::vector<PromptChunk>& chunks,
                                   std::span<const ImageEmbeddings* const> images, const GenerateParams& p) {
  for (const std::string& st : p.stop)
    if (st.empty()) fail(Status::InvalidArgument, "empty stop string");
  const FeedResult fed = feed_prompt(s, llm, chunks, images);
  GenerateResult r = generate_continue(s, llm.tokenizer(), fed.text_ids, p);
  r.n_prompt = static_cast<int>(fed.n_tokens);
  r.prefill_ms = fed.ms;
  return r;
}

}  // namespace bluecl
