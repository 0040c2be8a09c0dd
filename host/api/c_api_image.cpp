// The C API's vision half (host/include/bluecl/bluecl.h, "images"): loading an mmproj onto a model's
// devices, encoding images into bluecl_image handles, feeding them to sessions, and bluecl_generate, which
// expands a prompt's "<image>" markers into those images (text-only prompts take the same path).
//
// Encoding is decoupled (spec 2(f)): the encode calls decode the image at once (so a bad file fails there)
// and hand the vision tower's work to the engine's worker thread (host/session/engine.h); a bluecl_image
// shares that job, and every reader waits for it through ready(). The tower runs on devices of its own, so
// the language model can prefill text meanwhile.
#include "host/api/c_api_internal.h"

#include "host/image/image.h"

using namespace bluecl;
using namespace bluecl::capi;

struct bluecl_image {
  std::shared_ptr<EncodeJob> job;
  const ImageEmbeddings& ready() const { return job->wait(); }
};

namespace {

Engine& engine(bluecl_model* model) {
  return *need(model, "model").e;
}

// The caller's tiles, checked against the tower's tile size (the buffer may go once we return).
std::span<const float> tile_span(const VisionInfo& info, const float* tiles, int32_t n_tiles) {
  if (n_tiles < 1) fail(Status::InvalidArgument, "n_tiles is {} (at least 1)", n_tiles);
  return {nonnull(tiles, "tiles"),
          static_cast<size_t>(n_tiles) * static_cast<size_t>(info.hparams.tile_floats())};
}

// A new image handle for an encode the engine has started (or the status of the attempt).
template <typename Start>
bluecl_status start_encode(bluecl_image** out, Start&& start) {
  return guard([&] {
    need(out, "out") = nullptr;
    auto img = std::make_unique<bluecl_image>();
    img->job = start();
    *out = img.release();
  });
}

}  // namespace

extern "C" {

bluecl_status bluecl_model_load_mmproj(bluecl_model* model, const char* path) {
  return guard([&] { engine(model).load_vision(nonnull(path, "path")); });
}

bluecl_status bluecl_model_load_vision(const char* mmproj_path, const bluecl_model_params* params,
                                       bluecl_model** out) {
  return guard([&] {
    need(out, "out") = nullptr;
    auto m = std::make_unique<bluecl_model>();
    m->e = std::make_unique<Engine>(engine_options(params));
    m->e->load_vision(nonnull(mmproj_path, "path"));
    *out = m.release();
  });
}

bluecl_status bluecl_model_set_vision_batch(bluecl_model* model, int32_t batch) {
  return guard([&] { engine(model).set_vision_batch(batch); });
}

bluecl_status bluecl_model_get_vision_info(const bluecl_model* model, bluecl_vision_info* out) {
  return guard([&] {
    const Engine& e = *need(model, "model").e;
    need(out, "out");
    const VisionInfo info = e.vision_info();
    const VitHParams& hp = info.hparams;
    *out = bluecl_vision_info{};
    out->image_size = static_cast<int32_t>(hp.image_size);
    out->patch_size = static_cast<int32_t>(hp.patch_size);
    out->n_patches = static_cast<int32_t>(hp.n_patches());
    out->n_embd = static_cast<int32_t>(hp.n_embd);
    out->n_layer = static_cast<int32_t>(hp.n_layer);
    out->tokens_per_tile = static_cast<int32_t>(hp.tokens_per_tile());
    out->proj_dim = static_cast<int32_t>(hp.proj_dim);
    out->max_grid = info.max_grid;
    out->max_tiles = info.max_tiles;
    out->vision_batch = static_cast<int32_t>(info.batch);
    out->weight_bytes = info.weight_bytes;
    out->weights_resident = info.weights_resident;
    out->device_bytes = info.device_bytes;
  });
}

bluecl_status bluecl_image_encode_file(bluecl_model* model, const char* path, bluecl_image** out) {
  if (out) *out = nullptr;
  std::shared_ptr<Image> img;
  const bluecl_status st = guard([&] { img = std::make_shared<Image>(decode_image(nonnull(path, "path"))); });
  if (st != BLUECL_OK) return st;
  return start_encode(out, [&] { return engine(model).encode_image_async(img); });
}

bluecl_status bluecl_image_encode_rgb(bluecl_model* model, const uint8_t* rgb, int32_t width, int32_t height,
                                      bluecl_image** out) {
  if (out) *out = nullptr;
  auto img = std::make_shared<Image>();
  const bluecl_status st = guard([&] {
    if (width < 1 || height < 1 || int64_t{width} * height > kMaxImagePixels)
      fail(Status::InvalidArgument, "image size {}x{} (each side >= 1, at most {} pixels)", width, height,
           kMaxImagePixels);
    img->width = width;
    img->height = height;
    const uint8_t* px = nonnull(rgb, "rgb");
    img->rgb.assign(px, px + size_t(width) * size_t(height) * 3);
  });
  if (st != BLUECL_OK) return st;
  return start_encode(out, [&] { return engine(model).encode_image_async(img); });
}

bluecl_status bluecl_image_encode_tiles(bluecl_model* model, const float* tiles, int32_t n_tiles,
                                        bluecl_image** out) {
  if (out) *out = nullptr;
  std::vector<float> copy;
  const bluecl_status st = guard([&] {
    const std::span<const float> s = tile_span(engine(model).vision_info(), tiles, n_tiles);
    copy.assign(s.begin(), s.end());
  });
  if (st != BLUECL_OK) return st;
  return start_encode(out, [&] { return engine(model).encode_tiles_async(std::move(copy)); });
}

bluecl_status bluecl_image_wait(const bluecl_image* image) {
  return guard([&] { need(image, "image").ready(); });
}

bluecl_status bluecl_model_set_vision_pipeline(bluecl_model* model, int32_t mode) {
  return guard([&] {
    Engine& e = engine(model);
    if (mode < 0 || mode > 3)
      fail(Status::InvalidArgument, "vision pipeline mode {} (0 auto, 1 off, 2 serial, 3 on)", mode);
    e.set_vision_pipeline(static_cast<VisionPipeline>(mode));
  });
}

bluecl_status bluecl_model_vision_plan(bluecl_model* model, int32_t n_tiles, char* text, size_t capacity,
                                       size_t* len) {
  return guard([&] { copy_text(engine(model).vision_plan(n_tiles), text, capacity, len, "the plan"); });
}

bluecl_status bluecl_model_wait_vision(bluecl_model* model) {
  return guard([&] { engine(model).wait_vision(); });
}

bluecl_status bluecl_model_set_vision_release(bluecl_model* model, int32_t release) {
  return guard([&] { engine(model).set_release_policy(ReleasePolicy{.vision_when_idle = release != 0}); });
}

bluecl_status bluecl_image_embeddings(const bluecl_image* image, const float** embd, size_t* n_tokens,
                                      size_t* n_embd) {
  return guard([&] {
    const ImageEmbeddings& e = need(image, "image").ready();
    need(embd, "embd") = e.tokens.data();
    need(n_tokens, "n_tokens") = static_cast<size_t>(e.n_tokens());
    need(n_embd, "n_embd") = static_cast<size_t>(e.n_embd);
  });
}

bluecl_status bluecl_image_grid_of(const bluecl_image* image, int32_t* m, int32_t* n) {
  return guard([&] {
    const ImageEmbeddings& e = need(image, "image").ready();
    need(m, "m") = e.grid.m;
    need(n, "n") = e.grid.n;
  });
}

void bluecl_image_free(bluecl_image* image) {
  delete image;
}  // the job lives on if still running

bluecl_status bluecl_session_prefill_image(bluecl_session* session, const bluecl_image* image) {
  return guard([&] {
    EngineSession& s = *need(session, "session").s;
    s.prefill_image(need(image, "image").ready());
  });
}

bluecl_status bluecl_vision_features(bluecl_model* model, const float* tiles, int32_t n_tiles, float* out,
                                     size_t capacity, size_t* n_floats) {
  return guard([&] {
    Engine& e = engine(model);
    const VisionInfo info = e.vision_info();
    const VitHParams& hp = info.hparams;
    const size_t needed = static_cast<size_t>(std::max(n_tiles, 0)) * hp.n_patches() * hp.n_embd;
    need(n_floats, "n_floats") = needed;
    if (needed > capacity)
      fail(Status::InvalidArgument, "{} floats do not fit a buffer of {}", needed, capacity);
    const std::vector<float> f = e.vision_features(tile_span(info, tiles, n_tiles));
    std::copy(f.begin(), f.end(), nonnull(out, "out"));
  });
}

bluecl_status bluecl_generate(bluecl_session* session, const char* prompt,
                              const bluecl_generate_params* params, bluecl_generate_stats* stats) {
  return guard([&] {
    EngineSession& s = *need(session, "session").s;
    const bluecl_generate_params p = read_params(params, bluecl_generate_default_params());
    const bluecl_sampler_params sampling = read_params(&p.sampling, bluecl_sampler_default_params());
    GenerateParams gp;
    gp.n_predict = p.n_predict;
    gp.sampling =
        SamplerParams{sampling.temperature,    sampling.top_k,         sampling.top_p, sampling.min_p,
                      sampling.repeat_penalty, sampling.repeat_last_n, sampling.seed};
    for (size_t i = 0; i < p.n_stop; ++i)
      gp.stop.emplace_back(nonnull(nonnull(p.stop, "stop")[i], "stop string"));
    if (p.on_token)
      gp.on_token = [&](int32_t t, std::string_view text) {
        return p.on_token(t, text.data(), text.size(), p.user) == 0;
      };
    std::vector<const ImageEmbeddings*> images;
    for (size_t i = 0; i < p.n_images; ++i)
      images.push_back(&need(nonnull(p.images, "images")[i], "image").ready());
    const GenerateResult r = s.generate(prompt ? prompt : "", images, p.chat != 0, gp);
    if (stats) {
      *stats = bluecl_generate_stats{r.n_prompt, r.n_generated, r.prefill_ms, r.decode_ms,
                                     static_cast<bluecl_stop_reason>(r.reason)};
    }
  });
}

}  // extern "C"
