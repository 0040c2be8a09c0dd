// A loaded multimodal model and everything that runs it: the language model on its devices, an optional
// vision tower on devices of its own, the worker thread that encodes images while the language model
// prefills text (spec section 2(f)), and the release policy that frees memory once it is not needed.
// The C API (host/api) is a thin wrapper of this class; C++ code and tests use it directly.
//
// Threads: an Engine may be shared by several threads and several EngineSessions. Everything that runs
// the language model (creating a session, prefill, generate, plans) is serialised by one lock; the vision
// tower has a lock of its own, held by the worker while it encodes, so an image encodes while text
// prefills. Reading the vision state (vision_info, has_vision) never waits for an encode. An
// EngineSession is used by one thread at a time; every session must go before its engine.
//
// Memory (the release policy): the language model's and the tower's file pages of weights that only a
// device reads are dropped once the device has its copy (see Devices::release_host_pages), always; the
// tower's weights (device copies and file pages) are freed whenever the encode queue runs empty, unless
// ReleasePolicy::vision_when_idle is off. The next encode brings them back.
#pragma once

#include "host/image/image.h"
#include "host/model/llm_model.h"
#include "host/model/vit_model.h"
#include "host/runtime/devices.h"
#include "host/session/async_encode.h"
#include "host/session/generate.h"
#include "host/session/multimodal.h"
#include "host/session/session.h"
#include "host/session/vision.h"

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bluecl {

struct ReleasePolicy {
  // Free the vision tower's weights whenever no image is left to encode (a single-image conversation
  // needs the tower once); off keeps them for conversations with many images.
  bool vision_when_idle = true;
};

struct EngineOptions {
  DeviceOptions devices;    // for the language model's devices and the tower's (each gets its own)
  bool vocab_only = false;  // the tokenizer alone: no devices, no sessions, no vision tower
  // Loading and encoding progress (stage, fraction); may throw (Status::Cancelled) to stop. Image
  // encodes call it on the worker thread with the stage "encoding image".
  std::function<void(const char* stage, float fraction)> progress;
  ReleasePolicy release;
};

// What the vision tower is and its state, read without waiting for a running encode.
struct VisionInfo {
  VitHParams hparams;
  int max_grid = 0, max_tiles = 0;
  size_t weight_bytes = 0;
  int64_t batch = 4;
  bool weights_resident = true;  // false after the release policy freed them
  size_t device_bytes = 0;       // OpenCL memory the tower's devices hold now (filled by vision_info)
};

class EngineSession;

class Engine {
 public:
  // An engine with nothing loaded: load_vision makes it a vision-only engine (for encoding images).
  explicit Engine(EngineOptions opts = {});
  // Loads a language model (a GGUF file) onto devices made from opts.devices (none when vocab_only).
  static std::unique_ptr<Engine> load(const std::string& path, EngineOptions opts = {});
  ~Engine();  // finishes the running encode; queued ones end with Status::Cancelled
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- the language model
  bool has_llm() const { return llm_ != nullptr; }
  const LlmModel& llm() const;                   // throws InvalidArgument for a vision-only engine
  Devices* devices() { return devices_.get(); }  // null when vocab-only or vision-only
  // A session on the language model, prepared (weights on their devices, kernels built). Throws
  // InvalidArgument without a language model or for a vocab-only one.
  std::unique_ptr<EngineSession> create_session(const SessionParams& params);

  // ---- the vision tower
  // Loads (or replaces) the tower of an mmproj file and starts the worker. A file that fails to load, or
  // whose projection does not fit the language model, leaves the previous tower in place.
  void load_vision(const std::string& mmproj_path);
  bool has_vision() const;
  VisionInfo vision_info() const;  // throws InvalidArgument without a tower
  // Tiles per tower run, 1..64 (InvalidArgument otherwise); may be set before the tower is loaded.
  void set_vision_batch(int64_t batch);
  void set_vision_pipeline(VisionPipeline pipeline);
  void set_release_policy(const ReleasePolicy& policy);
  ReleasePolicy release_policy() const;

  // Encoding on the worker: returns at once with the job; EncodeJob::wait gives the image tokens or
  // rethrows the error the encode ended with. Throws InvalidArgument at once without a tower.
  std::shared_ptr<EncodeJob> encode_image_async(std::shared_ptr<const Image> image);
  // tiles: [n, 3, T, T] normalised floats (copied; whole tiles, checked on the worker).
  std::shared_ptr<EncodeJob> encode_tiles_async(std::vector<float> tiles);
  // The same, waiting for the result (after every encode queued before it).
  ImageEmbeddings encode_image(const Image& image);
  ImageEmbeddings encode_tiles(std::span<const float> tiles);
  // Until every encode started has finished (and the release policy has run).
  void wait_vision();

  // The ViT's features before the downsampler and projector, [n, n_patches, n_embd], computed now on
  // the calling thread (after the queued encodes).
  std::vector<float> vision_features(std::span<const float> tiles);
  std::string vision_plan(int64_t n_tiles);  // the tower's placement plan for a batch of n_tiles

 private:
  friend class EngineSession;
  using EncodeFn = std::function<ImageEmbeddings(VisionEncoder&, const VitModel&, const EncodeProgress&)>;
  std::shared_ptr<EncodeJob> submit(EncodeFn encode);
  ImageEmbeddings run_encode(const EncodeFn& encode);  // on the worker, takes vision_mu_
  VisionEncoder& encoder();                            // with vision_mu_ held; throws without a tower
  void rebuild_encoder();                              // with vision_mu_ held
  void release_if_idle();                              // the worker's on_idle
  void release_vision_weights();                       // with vision_mu_ held
  void set_resident(bool resident);

  EngineOptions opts_;
  std::unique_ptr<LlmModel> llm_;
  std::unique_ptr<Devices> devices_;
  std::mutex run_mu_;  // serialises everything that runs the language model

  // vision_mu_ guards vit_, vision_, vision_devices_; the worker holds it while it encodes.
  std::mutex vision_mu_;
  std::unique_ptr<Devices> vision_devices_;
  std::unique_ptr<VitModel> vit_;
  std::unique_ptr<VisionEncoder> vision_;
  // info_mu_ guards the state below, which readers see without waiting for an encode. Lock order:
  // vision_mu_, then info_mu_.
  mutable std::mutex info_mu_;
  std::optional<VisionInfo> info_;
  VisionParams vision_params_;
  // Declared last: destroyed first, so no encode runs while the rest goes away.
  std::unique_ptr<VisionWorker> worker_;
};

// A conversation on an engine's language model: a Session whose calls take the engine's run lock, plus
// prompts with images (the "<image>" markers of host/session/multimodal.h).
class EngineSession {
 public:
  EngineSession(Engine& engine, const SessionParams& params);  // prepares it (Engine::create_session)
  ~EngineSession();

  void prefill(std::span<const int32_t> tokens);
  void prefill_embd(std::span<const float> embd);  // [n, n_embd]
  void prefill_image(const ImageEmbeddings& image);
  // Tokenises the prompt (BOS when the session is empty; the chat template with `chat`; "<image>"
  // markers stand for `images`, in order) and generates. Wait for the images before calling: the run
  // lock is held throughout.
  GenerateResult generate(std::string_view prompt, std::span<const ImageEmbeddings* const> images, bool chat,
                          const GenerateParams& params);
  std::string plan_text(int64_t n_tokens);
  void truncate(int64_t n_keep);
  // The session's state (Session::save_state and friends), under the run lock: saving reads the KV cache
  // back from its device, loading writes it there.
  size_t state_size() const { return s_->state_size(); }
  std::vector<uint8_t> save_state();
  void load_state(std::span<const uint8_t> bytes);
  void save_state_file(const std::string& path);
  void load_state_file(const std::string& path);
  const std::vector<int32_t>& history() const { return s_->history(); }

  std::span<const float> logits() const { return s_->logits(); }
  const std::vector<float>& all_logits() const { return s_->all_logits(); }
  int64_t n_past() const { return s_->n_past(); }
  int64_t n_ctx() const { return s_->n_ctx(); }
  int64_t n_vocab() const { return engine_.llm().hparams().n_vocab; }
  int64_t n_embd() const { return engine_.llm().hparams().n_embd; }
  Engine& engine() { return engine_; }

 private:
  Engine& engine_;
  std::unique_ptr<Session> s_;
};

}  // namespace bluecl
