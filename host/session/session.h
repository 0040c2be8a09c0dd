// One conversation with a language model: a KV cache on the device, chunked prefill (each chunk attends
// causally to itself and fully to the cache), single-token decode, logits of the last token (or of
// every token fed, for tests and `bluecl logits`). Graphs are built, scheduled and planned once per chunk
// shape and then replayed. A session is used by one thread at a time. Its state (the KV cache rows in
// use, the tokens fed, the last logits) can be saved and loaded (host/session/session_state.cpp).
#pragma once

#include "graph/llm.h"
#include "host/model/llm_model.h"
#include "host/runtime/devices.h"
#include "host/runtime/executor.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bluecl {

struct SessionParams {
  int64_t n_ctx = 0;             // 0: the model's trained context, at most 2048
  int64_t n_chunk = 128;         // prefill chunk size (tokens)
  std::optional<DType> kv_type;  // default: f16 where the cache's device has fp16 (and on the CPU), else f32
  bool all_logits = false;       // keep the logits of every token fed, not just the last
};

class Session {
 public:
  Session(const LlmModel& model, Devices& devices, const SessionParams& params);
  ~Session();

  // Builds the graphs for a full chunk and for one token: weights reach their devices and kernels are
  // compiled, so the first prefill does no one-time work. progress(stage, fraction).
  void prepare(const std::function<void(const char* stage, float fraction)>& progress = nullptr);

  // Appends tokens (chunked prefill). Throws ContextFull past n_ctx, InvalidArgument for unknown ids.
  // A call that fails part way (a device error in any chunk) leaves the session as it was before the
  // call (its length and logits: see rewind), so the same call may be made again.
  void prefill(std::span<const int32_t> tokens);
  // Appends n_tok embeddings [n_tok, n_embd] (image tokens) the same way.
  void prefill_embd(std::span<const float> embd);
  void decode(int32_t token) { prefill(std::span<const int32_t>(&token, 1)); }

  std::span<const float> logits() const;  // of the last token fed
  // With all_logits: [n, n_vocab] for every token fed by the last prefill/decode call.
  const std::vector<float>& all_logits() const { return all_logits_; }

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  DType kv_type() const { return kv_type_; }
  int64_t n_chunk() const { return n_chunk_; }
  // Forgets every token after the first n (keeps a shared prefix, e.g. an encoded image).
  void truncate(int64_t n);
  // Where the session is (its length and last logits), to return to when a later step fails: the KV
  // rows past the mark are overwritten by the next step, so rewinding needs no device work.
  struct Mark {
    int64_t n_past = 0;
    std::vector<float> logits, all_logits;
  };
  Mark mark() const { return {n_past_, logits_, all_logits_}; }
  void rewind(Mark m);
  // What was fed, one entry per position: the token id, or kEmbeddingPosition for an embedding (an image
  // token).
  static constexpr int32_t kEmbeddingPosition = -1;
  const std::vector<int32_t>& history() const { return history_; }

  // The state: a header (format, the model's fingerprint, the KV type), the history, the last logits and
  // the KV cache rows of the positions in use, read back from the cache's device; a checksum closes it.
  // There is no sampler state: sampling belongs to each generate call. The layout is in session_state.cpp.
  size_t state_size() const;
  std::vector<uint8_t> save_state();
  // Replaces the session's state with a saved one, refusing (the session unchanged) a state of another
  // model or KV type (InvalidArgument), one longer than this session's context (ContextFull), a corrupt
  // or truncated one (BadFile) and a newer format (Unsupported). The context sizes and devices of the
  // saving and loading sessions may differ.
  void load_state(std::span<const uint8_t> bytes);
  void save_state_file(const std::string& path);  // written whole or not at all (Io on failure)
  void load_state_file(const std::string& path);
  size_t kv_bytes() const;
  std::string plan_text(int64_t n_tok);  // the placement plan of the graph for a chunk of n_tok tokens

 private:
  // Runs one prefill call's chunks; if any throws, the session goes back to where it was before the call.
  template <class RunChunks>
  void undo_on_error(RunChunks&& run_chunks);
  struct Step;
  Step& step_for(int64_t n_tok, bool embd, const Executor::Progress& weights = nullptr,
                 const Executor::Progress& kernels = nullptr);
  void bind_caches(Executor& ex, const LlmGraph& lg);
  // ids: the chunk's token ids for the history, or null for embeddings.
  void run_chunk(Step& s, const void* input, size_t bytes, int64_t n_tok, const int32_t* ids);
  Backend& cache_backend();  // the KV cache's device, the cache allocated if it was not yet

  const LlmModel& model_;
  Devices& devices_;
  int64_t n_ctx_, n_chunk_;
  DType kv_type_;
  bool keep_all_;
  int64_t n_past_ = 0;
  std::vector<int32_t> history_;  // n_past_ entries
  int cache_device_ = -1;
  std::vector<std::unique_ptr<DeviceBuffer>> caches_;  // k0, v0, k1, v1, ...
  std::map<std::pair<int64_t, bool>, std::unique_ptr<Step>> steps_;
  std::vector<float> logits_, all_logits_;
};

}  // namespace bluecl
