// The engine: model lifecycle, the encode worker and the release policy (contract in
// host/session/engine.h).
#include "host/session/engine.h"

#include "graph/base/error.h"
#include "graph/base/log.h"
#include "graph/base/parse.h"

#include <chrono>

namespace bluecl {

namespace {

void check_batch(int64_t batch) {
  if (batch < 1 || batch > 64) fail(Status::InvalidArgument, "vision batch size {} is outside 1..64", batch);
}

[[noreturn]] void no_tower() {
  fail(Status::InvalidArgument, "the model has no vision tower: load one with bluecl_model_load_mmproj");
}

}  // namespace

Engine::Engine(EngineOptions opts) : opts_(std::move(opts)) {}

Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::load(const std::string& path, EngineOptions opts) {
  auto e = std::make_unique<Engine>(std::move(opts));
  e->llm_ = LlmModel::load(path, e->opts_.vocab_only);
  if (!e->opts_.vocab_only) {
    e->devices_ = std::make_unique<Devices>(e->opts_.devices);
    e->devices_->release_host_pages = [llm = e->llm_.get()](const void* p, size_t n) {
      llm->file().release_pages(p, n);
    };
  }
  return e;
}

const LlmModel& Engine::llm() const {
  if (!llm_)
    fail(Status::InvalidArgument,
         "this model has no language model (it was loaded with bluecl_model_load_vision)");
  return *llm_;
}

std::unique_ptr<EngineSession> Engine::create_session(const SessionParams& params) {
  return std::make_unique<EngineSession>(*this, params);
}

// ---- the vision tower

void Engine::load_vision(const std::string& mmproj_path) {
  if (llm_ && llm_->vocab_only())
    fail(Status::InvalidArgument, "the model was loaded vocab-only: it has no devices for a vision tower");
  std::unique_ptr<VitModel> vit = VitModel::load(mmproj_path);
  if (llm_) check_projection(*vit, *llm_);
  if (worker_) worker_->wait_idle();
  std::lock_guard lock(vision_mu_);
  if (!vision_devices_) {
    vision_devices_ = std::make_unique<Devices>(opts_.devices);
    // Pages of the current tower's file (replaced towers have released theirs).
    vision_devices_->release_host_pages = [this](const void* p, size_t n) {
      if (vit_) vit_->file().release_pages(p, n);
    };
  }
  if (vision_) vision_->release_weights();  // the devices' copies are keyed by the old file's mapping
  vision_.reset();
  vit_ = std::move(vit);
  rebuild_encoder();
  if (!worker_) worker_ = std::make_unique<VisionWorker>([this] { release_if_idle(); });
  // Last: an encode may start as soon as readers see the tower (the worker exists by then).
  std::lock_guard info_lock(info_mu_);
  info_ = VisionInfo{.hparams = vit_->hparams(),
                     .max_grid = vit_->max_grid(),
                     .max_tiles = vit_->max_tiles(),
                     .weight_bytes = vit_->weight_bytes(),
                     .batch = vision_params_.batch,
                     .weights_resident = true};
}

bool Engine::has_vision() const {
  std::lock_guard lock(info_mu_);
  return info_.has_value();
}

VisionInfo Engine::vision_info() const {
  std::lock_guard lock(info_mu_);
  if (!info_) no_tower();
  VisionInfo v = *info_;
  // vision_devices_ is made once, before info_ is first set under info_mu_, and never replaced: reading
  // it here needs no vision_mu_ (which an encode holds); the counter is atomic.
  if (ClBackend* cl = vision_devices_->cl()) v.device_bytes = cl->allocated_bytes();
  return v;
}

void Engine::rebuild_encoder() {
  if (!vit_) return;
  VisionParams p;
  {
    std::lock_guard lock(info_mu_);
    p = vision_params_;
  }
  // Graphs are per batch size: a fresh encoder builds them on first use (the weights stay uploaded).
  vision_ = std::make_unique<VisionEncoder>(*vit_, *vision_devices_, p);
}

void Engine::set_vision_batch(int64_t batch) {
  check_batch(batch);
  if (worker_) worker_->wait_idle();
  std::lock_guard lock(vision_mu_);
  {
    std::lock_guard info_lock(info_mu_);
    vision_params_.batch = batch;
    if (info_) info_->batch = batch;
  }
  rebuild_encoder();
}

void Engine::set_vision_pipeline(VisionPipeline pipeline) {
  if (worker_) worker_->wait_idle();
  std::lock_guard lock(vision_mu_);
  {
    std::lock_guard info_lock(info_mu_);
    vision_params_.pipeline = pipeline;
  }
  rebuild_encoder();
}

void Engine::set_release_policy(const ReleasePolicy& policy) {
  std::lock_guard lock(info_mu_);
  opts_.release = policy;
}

ReleasePolicy Engine::release_policy() const {
  std::lock_guard lock(info_mu_);
  return opts_.release;
}

void Engine::set_resident(bool resident) {
  std::lock_guard lock(info_mu_);
  if (info_) info_->weights_resident = resident;
}

VisionEncoder& Engine::encoder() {
  if (!vision_) no_tower();
  return *vision_;
}

// Frees the tower's device copies and the pages of its mapped file; the next encode brings them back.
void Engine::release_vision_weights() {
  if (!vision_ || !vision_info().weights_resident) return;
  vision_->release_weights();
  for (const WeightRef* w : vit_->all_weights())
    vit_->file().release_pages(w->data, dtype_bytes(w->dtype, w->shape.numel()));
  set_resident(false);
  log(LogLevel::Info, "vision", "released the vision tower's weights ({})",
      format_bytes(vit_->weight_bytes()));
}

void Engine::release_if_idle() {
  std::lock_guard lock(vision_mu_);
  if (release_policy().vision_when_idle) release_vision_weights();
}

// ---- encoding

ImageEmbeddings Engine::run_encode(const EncodeFn& encode) {
  std::lock_guard lock(vision_mu_);
  set_resident(true);  // this encode brings the weights back
  EncodeProgress each_batch;
  if (opts_.progress) each_batch = [this](float fraction) { opts_.progress("encoding image", fraction); };
  const auto t0 = std::chrono::steady_clock::now();
  ImageEmbeddings e = encode(encoder(), *vit_, each_batch);
  log(LogLevel::Debug, "vision", "encoded {} tiles in {:.0f} ms", e.n_tiles,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  return e;
}

std::shared_ptr<EncodeJob> Engine::submit(EncodeFn encode) {
  if (!has_vision()) no_tower();  // a model without a vision tower fails here, not on the worker
  return worker_->submit([this, encode = std::move(encode)] { return run_encode(encode); });
}

std::shared_ptr<EncodeJob> Engine::encode_image_async(std::shared_ptr<const Image> image) {
  if (!image) fail(Status::InvalidArgument, "no image to encode");
  return submit(
      [image = std::move(image)](VisionEncoder& enc, const VitModel& vit, const EncodeProgress& pr) {
        return bluecl::encode_image(enc, vit, *image, pr);
      });
}

std::shared_ptr<EncodeJob> Engine::encode_tiles_async(std::vector<float> tiles) {
  auto owned = std::make_shared<const std::vector<float>>(std::move(tiles));
  return submit([owned](VisionEncoder& enc, const VitModel& vit, const EncodeProgress& pr) {
    return bluecl::encode_tiles(enc, vit, *owned, pr);
  });
}

ImageEmbeddings Engine::encode_image(const Image& image) {
  return submit([&image](VisionEncoder& enc, const VitModel& vit, const EncodeProgress& pr) {
           return bluecl::encode_image(enc, vit, image, pr);
         })
      ->wait();
}

ImageEmbeddings Engine::encode_tiles(std::span<const float> tiles) {
  return submit([tiles](VisionEncoder& enc, const VitModel& vit, const EncodeProgress& pr) {
           return bluecl::encode_tiles(enc, vit, tiles, pr);
         })
      ->wait();
}

void Engine::wait_vision() {
  if (worker_) worker_->wait_idle();
}

std::vector<float> Engine::vision_features(std::span<const float> tiles) {
  if (worker_) worker_->wait_idle();
  std::lock_guard lock(vision_mu_);
  VisionEncoder& enc = encoder();
  set_resident(true);  // the weights come back if the release policy had freed them
  return enc.encode_vit(tiles);
}

std::string Engine::vision_plan(int64_t n_tiles) {
  if (worker_) worker_->wait_idle();
  std::lock_guard lock(vision_mu_);
  return encoder().plan_text(n_tiles);
}

// ---- sessions

EngineSession::EngineSession(Engine& engine, const SessionParams& params) : engine_(engine) {
  const LlmModel& llm = engine.llm();
  if (!engine.devices_) fail(Status::InvalidArgument, "the model was loaded vocab-only");
  std::lock_guard lock(engine.run_mu_);
  s_ = std::make_unique<Session>(llm, *engine.devices_, params);
  s_->prepare(engine.opts_.progress);
}

EngineSession::~EngineSession() = default;

void EngineSession::prefill(std::span<const int32_t> tokens) {
  std::lock_guard lock(engine_.run_mu_);
  s_->prefill(tokens);
}

void EngineSession::prefill_embd(std::span<const float> embd) {
  std::lock_guard lock(engine_.run_mu_);
  s_->prefill_embd(embd);
}

void EngineSession::prefill_image(const ImageEmbeddings& image) {
  const ImageEmbeddings* e = &image;
  std::lock_guard lock(engine_.run_mu_);
  const std::vector<PromptChunk> one{{{}, 0}};
  feed_prompt(*s_, engine_.llm(), one, std::span<const ImageEmbeddings* const>(&e, 1));
}

GenerateResult EngineSession::generate(std::string_view prompt,
                                       std::span<const ImageEmbeddings* const> images, bool chat,
                                       const GenerateParams& params) {
  const LlmModel& llm = engine_.llm();
  std::lock_guard lock(engine_.run_mu_);
  const PromptOptions po{.chat = chat,
                         .add_bos = s_->n_past() == 0,
                         .parse_special = chat || !images.empty(),
                         .image_markers = !images.empty() || engine_.has_vision()};
  const std::vector<PromptChunk> chunks = tokenize_prompt(llm.tokenizer(), prompt, images.size(), po);
  return generate_multimodal(*s_, llm, chunks, images, params);
}

std::string EngineSession::plan_text(int64_t n_tokens) {
  std::lock_guard lock(engine_.run_mu_);
  return s_->plan_text(n_tokens);
}

std::vector<uint8_t> EngineSession::save_state() {
  std::lock_guard lock(engine_.run_mu_);
  return s_->save_state();
}

void EngineSession::load_state(std::span<const uint8_t> bytes) {
  std::lock_guard lock(engine_.run_mu_);
  s_->load_state(bytes);
}

void EngineSession::save_state_file(const std::string& path) {
  std::lock_guard lock(engine_.run_mu_);
  s_->save_state_file(path);
}

void EngineSession::load_state_file(const std::string& path) {
  std::lock_guard lock(engine_.run_mu_);
  s_->load_state_file(path);
}

void EngineSession::truncate(int64_t n_keep) {
  s_->truncate(n_keep);  // only moves the session's end: nothing runs, no lock
}

}  // namespace bluecl
