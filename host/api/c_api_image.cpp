// The C API's vision half (host/include/bluecl/bluecl.h, "images"): loading an mmproj onto a model's
// devices, encoding images into bluecl_image handles, feeding them to sessions, and bluecl_generate, which
// expands a prompt's "<image>" markers into those images (text-only prompts take the same path).
//
// Encoding is decoupled (spec 2(f)): the encode calls decode the image at once (so a bad file fails there)
// and hand the vision tower's work to the model's worker thread; a bluecl_image shares that job, and every
// reader waits for it through ready(). The tower runs on devices of its own, so the language model can
// prefill text meanwhile.
#include "host/api/c_api_internal.h"

#include "graph/base/log.h"
#include "host/image/image.h"
#include "host/session/generate.h"
#include "host/session/multimodal.h"

#include <chrono>

using namespace bluecl;
using namespace bluecl::capi;

struct bluecl_image {
  std::shared_ptr<EncodeJob> job;
  const ImageEmbeddings& ready() const { return job->wait(); }
};

namespace {

VisionEncoder& encoder(bluecl_model& m) {
  if (!m.vision)
    fail(Status::InvalidArgument, "the model has no vision tower: load one with bluecl_model_load_mmproj");
  return *m.vision;
}

void check_batch(int32_t batch) {
  if (batch < 1 || batch > 64) fail(Status::InvalidArgument, "vision batch size {} is outside 1..64", batch);
}

// Frees the tower's device copies and the pages of its mapped file; the next encode brings them back.
void release_vision_weights(bluecl_model& m) {
  if (!m.vision || m.vision_released) return;
  m.vision->release_weights();
  for (const WeightRef* w : m.vit->all_weights())
    m.vit->file().release_pages(w->data, dtype_bytes(w->dtype, w->shape.numel()));
  m.vision_released = true;
  log(LogLevel::Info, "vision", "released the vision tower's weights ({:.0f} MiB)",
      m.vit->weight_bytes() / 1048576.0);
}

// Loads (or replaces) the model's vision tower and starts its worker. A file that fails to load or does
// not fit the language model leaves the previous tower in place.
void load_vision(bluecl_model& m, const char* path) {
  if (m.llm && m.llm->vocab_only())
    fail(Status::InvalidArgument, "the model was loaded vocab-only: it has no devices for a vision tower");
  std::unique_ptr<VitModel> vit = VitModel::load(nonnull(path, "path"));
  if (m.llm) check_projection(*vit, *m.llm);
  if (m.worker) m.worker->wait_idle();
  std::lock_guard lock(m.vision_mu);
  if (!m.vision_devices) {
    m.vision_devices = std::make_unique<Devices>(m.device_options);
    // Pages of the current tower's file (replaced towers have released theirs).
    m.vision_devices->release_host_pages = [&m](const void* p, size_t n) {
      if (m.vit) m.vit->file().release_pages(p, n);
    };
  }
  if (m.vision) m.vision->release_weights();  // the devices' copies are keyed by the old file's mapping
  m.vision.reset();
  m.vit = std::move(vit);
  m.vision = std::make_unique<VisionEncoder>(
      *m.vit, *m.vision_devices, VisionParams{.batch = m.vision_batch, .pipeline = m.vision_pipeline});
  m.vision_released = false;
  if (!m.worker)
    m.worker = std::make_unique<VisionWorker>([&m] {
      std::lock_guard lock(m.vision_mu);
      if (m.release_vision) release_vision_weights(m);
    });
}

// Starts encoding on the model's worker and returns at once with the image handle. `encode` runs on the
// worker with the vision lock held; it must own everything it reads.
bluecl_status encode_async(
    bluecl_model* model, bluecl_image** out,
    std::function<ImageEmbeddings(VisionEncoder&, const VitModel&, const EncodeProgress&)> encode) {
  return guard([&] {
    need(out, "out") = nullptr;
    bluecl_model& m = need(model, "model");
    {
      std::lock_guard lock(m.vision_mu);
      encoder(m);  // a model without a vision tower fails here, not on the worker
    }
    auto img = std::make_unique<bluecl_image>();
    img->job = m.worker->submit([&m, encode = std::move(encode)] {
      std::lock_guard lock(m.vision_mu);
      m.vision_released = false;  // this encode brings the weights back
      const auto progress = progress_of(m);
      EncodeProgress each_batch;
      if (progress) each_batch = [&](float fraction) { progress("encoding image", fraction); };
      const auto t0 = std::chrono::steady_clock::now();
      ImageEmbeddings e = encode(encoder(m), *m.vit, each_batch);
      log(LogLevel::Debug, "vision", "encoded {} tiles in {:.0f} ms", e.n_tiles,
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      return e;
    });
    *out = img.release();
  });
}

std::span<const float> tile_span(const bluecl_model& m, const float* tiles, int32_t n_tiles) {
  if (n_tiles < 1) fail(Status::InvalidArgument, "n_tiles is {} (at least 1)", n_tiles);
  return {nonnull(tiles, "tiles"),
          static_cast<size_t>(n_tiles) * static_cast<size_t>(m.vit->hparams().tile_floats())};
}

}  // namespace

extern "C" {

bluecl_status bluecl_model_load_mmproj(bluecl_model* model, const char* path) {
  return guard([&] { load_vision(need(model, "model"), path); });
}

bluecl_status bluecl_model_load_vision(const char* mmproj_path, const bluecl_model_params* params,
                                       bluecl_model** out) {
  return guard([&] {
    need(out, "out") = nullptr;
    auto m = new_model(params);
    load_vision(*m, mmproj_path);
    *out = m.release();
  });
}

bluecl_status bluecl_model_set_vision_batch(bluecl_model* model, int32_t batch) {
  return guard([&] {
    bluecl_model& m = need(model, "model");
    check_batch(batch);
    if (m.worker) m.worker->wait_idle();
    std::lock_guard lock(m.vision_mu);
    m.vision_batch = batch;
    // Graphs are per batch size: a fresh encoder builds them on first use (the weights stay uploaded).
    if (m.vision)
      m.vision = std::make_unique<VisionEncoder>(*m.vit, *m.vision_devices,
                                                 VisionParams{.batch = batch, .pipeline = m.vision_pipeline});
  });
}

bluecl_status bluecl_model_get_vision_info(const bluecl_model* model, bluecl_vision_info* out) {
  return guard([&] {
    const bluecl_model& m = need(model, "model");
    need(out, "out");
    if (!m.vit)
      fail(Status::InvalidArgument, "the model has no vision tower: load one with bluecl_model_load_mmproj");
    const VitHParams& hp = m.vit->hparams();
    *out = bluecl_vision_info{};
    out->image_size = static_cast<int32_t>(hp.image_size);
    out->patch_size = static_cast<int32_t>(hp.patch_size);
    out->n_patches = static_cast<int32_t>(hp.n_patches());
    out->n_embd = static_cast<int32_t>(hp.n_embd);
    out->n_layer = static_cast<int32_t>(hp.n_layer);
    out->tokens_per_tile = static_cast<int32_t>(hp.tokens_per_tile());
    out->proj_dim = static_cast<int32_t>(hp.proj_dim);
    out->max_grid = m.vit->max_grid();
    out->max_tiles = m.vit->max_tiles();
    out->vision_batch = m.vision_batch;
    out->weight_bytes = m.vit->weight_bytes();
    out->weights_resident = !m.vision_released;
  });
}

bluecl_status bluecl_image_encode_file(bluecl_model* model, const char* path, bluecl_image** out) {
  if (out) *out = nullptr;
  std::shared_ptr<Image> img;
  const bluecl_status st = guard([&] { img = std::make_shared<Image>(decode_image(nonnull(path, "path"))); });
  if (st != BLUECL_OK) return st;
  return encode_async(model, out, [img](VisionEncoder& enc, const VitModel& vit, const EncodeProgress& pr) {
    return encode_image(enc, vit, *img, pr);
  });
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
  return encode_async(model, out, [img](VisionEncoder& enc, const VitModel& vit, const EncodeProgress& pr) {
    return encode_image(enc, vit, *img, pr);
  });
}

bluecl_status bluecl_image_encode_tiles(bluecl_model* model, const float* tiles, int32_t n_tiles,
                                        bluecl_image** out) {
  if (out) *out = nullptr;
  auto copy = std::make_shared<std::vector<float>>();
  const bluecl_status st = guard([&] {
    bluecl_model& m = need(model, "model");
    std::lock_guard lock(m.vision_mu);
    encoder(m);
    const std::span<const float> s =
        tile_span(m, tiles, n_tiles);  // the caller's buffer may go once we return
    copy->assign(s.begin(), s.end());
  });
  if (st != BLUECL_OK) return st;
  return encode_async(model, out, [copy](VisionEncoder& enc, const VitModel& vit, const EncodeProgress& pr) {
    return encode_tiles(enc, vit, *copy, pr);
  });
}

bluecl_status bluecl_image_wait(const bluecl_image* image) {
  return guard([&] { need(image, "image").ready(); });
}

bluecl_status bluecl_model_set_vision_pipeline(bluecl_model* model, int32_t mode) {
  return guard([&] {
    bluecl_model& m = need(model, "model");
    if (mode < 0 || mode > 3)
      fail(Status::InvalidArgument, "vision pipeline mode {} (0 auto, 1 off, 2 serial, 3 on)", mode);
    if (m.worker) m.worker->wait_idle();
    std::lock_guard lock(m.vision_mu);
    m.vision_pipeline = static_cast<VisionPipeline>(mode);
    if (m.vision)
      m.vision = std::make_unique<VisionEncoder>(
          *m.vit, *m.vision_devices, VisionParams{.batch = m.vision_batch, .pipeline = m.vision_pipeline});
  });
}

bluecl_status bluecl_model_vision_plan(bluecl_model* model, int32_t n_tiles, char* text, size_t capacity,
                                       size_t* len) {
  return guard([&] {
    bluecl_model& m = need(model, "model");
    if (m.worker) m.worker->wait_idle();
    std::lock_guard lock(m.vision_mu);
    const std::string plan = encoder(m).plan_text(n_tiles);
    need(len, "len") = plan.size();
    if (plan.size() + 1 > capacity) fail(Status::InvalidArgument, "the plan needs {} bytes", plan.size() + 1);
    std::memcpy(nonnull(text, "text"), plan.c_str(), plan.size() + 1);
  });
}

bluecl_status bluecl_model_wait_vision(bluecl_model* model) {
  return guard([&] {
    bluecl_model& m = need(model, "model");
    if (m.worker) m.worker->wait_idle();
  });
}

bluecl_status bluecl_model_set_vision_release(bluecl_model* model, int32_t release) {
  return guard([&] {
    bluecl_model& m = need(model, "model");
    std::lock_guard lock(m.vision_mu);
    m.release_vision = release != 0;
  });
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
    bluecl_session& s = need(session, "session");
    const ImageEmbeddings* e = &need(image, "image").ready();
    std::lock_guard lock(s.model->run_mu);
    const std::vector<PromptChunk> one{{{}, 0}};
    feed_prompt(*s.s, *s.model->llm, one, std::span<const ImageEmbeddings* const>(&e, 1));
  });
}

bluecl_status bluecl_vision_features(bluecl_model* model, const float* tiles, int32_t n_tiles, float* out,
                                     size_t capacity, size_t* n_floats) {
  return guard([&] {
    bluecl_model& m = need(model, "model");
    std::lock_guard lock(m.vision_mu);
    VisionEncoder& enc = encoder(m);
    const VitHParams& hp = m.vit->hparams();
    const size_t needed = static_cast<size_t>(std::max(n_tiles, 0)) * hp.n_patches() * hp.n_embd;
    need(n_floats, "n_floats") = needed;
    if (needed > capacity)
      fail(Status::InvalidArgument, "{} floats do not fit a buffer of {}", needed, capacity);
    const std::vector<float> f = enc.encode_vit(tile_span(m, tiles, n_tiles));
    std::copy(f.begin(), f.end(), nonnull(out, "out"));
  });
}

bluecl_status bluecl_generate(bluecl_session* session, const char* prompt,
                              const bluecl_generate_params* params, bluecl_generate_stats* stats) {
  return guard([&] {
    bluecl_session& s = need(session, "session");
    const bluecl_generate_params p = params ? *params : bluecl_generate_default_params();
    GenerateParams gp;
    gp.n_predict = p.n_predict;
    gp.sampling =
        SamplerParams{p.sampling.temperature,    p.sampling.top_k,         p.sampling.top_p, p.sampling.min_p,
                      p.sampling.repeat_penalty, p.sampling.repeat_last_n, p.sampling.seed};
    for (size_t i = 0; i < p.n_stop; ++i)
      gp.stop.emplace_back(nonnull(nonnull(p.stop, "stop")[i], "stop string"));
    if (p.on_token)
      gp.on_token = [&](int32_t t, std::string_view text) {
        return p.on_token(t, text.data(), text.size(), p.user) == 0;
      };
    std::vector<const ImageEmbeddings*> images;
    for (size_t i = 0; i < p.n_images; ++i)
      images.push_back(&need(nonnull(p.images, "images")[i], "image").ready());

    std::lock_guard lock(s.model->run_mu);
    const PromptOptions po{.chat = p.chat != 0,
                           .add_bos = s.s->n_past() == 0,
                           .parse_special = p.chat != 0 || p.n_images > 0,
                           .image_markers = p.n_images > 0 || s.model->vit != nullptr};
    const std::vector<PromptChunk> chunks =
        tokenize_prompt(s.model->llm->tokenizer(), prompt ? prompt : "", p.n_images, po);
    const GenerateResult r = generate_multimodal(*s.s, *s.model->llm, chunks, images, gp);
    if (stats) {
      *stats = bluecl_generate_stats{r.n_prompt, r.n_generated, r.prefill_ms, r.decode_ms,
                                     static_cast<bluecl_stop_reason>(r.reason)};
    }
  });
}

}  // extern "C"
