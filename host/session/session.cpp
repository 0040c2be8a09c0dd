#include "host/session/session.h"

#include "graph/base/error.h"
#include "graph/base/log.h"
#include "graph/base/parse.h"
#include "host/runtime/trace.h"

#include <algorithm>

namespace bluecl {

// The graph for one chunk shape, scheduled and ready to replay.
struct Session::Step {
  std::unique_ptr<LlmGraph> lg;
  Plan plan;
  std::unique_ptr<Executor> ex;
};

namespace {
DType default_kv_type(const Devices& devices) {
  // Caches live on the OpenCL device when there is one (the default placement).
  const auto& list = devices.backends();
  for (Backend* b : list)
    if (b->kind() == DeviceKind::OpenCl)
      return static_cast<const ClBackend*>(b)->features().fp16 ? DType::F16 : DType::F32;
  return DType::F16;
}
}  // namespace

Session::Session(const LlmModel& model, Devices& devices, const SessionParams& params)
    : model_(model), devices_(devices) {
  if (model.vocab_only()) fail(Status::InvalidArgument, "a vocabulary-only model cannot run a session");
  const LlmHParams& hp = model.hparams();
  n_ctx_ = params.n_ctx > 0 ? params.n_ctx : std::min<int64_t>(hp.n_ctx_train, 2048);
  if (n_ctx_ > (1 << 20)) fail(Status::InvalidArgument, "context {} is too large", n_ctx_);
  n_chunk_ = params.n_chunk;
  if (n_chunk_ < 1) fail(Status::InvalidArgument, "chunk size must be >= 1 (got {})", n_chunk_);
  kv_type_ = params.kv_type.value_or(default_kv_type(devices));
  if (kv_type_ != DType::F32 && kv_type_ != DType::F16 && kv_type_ != DType::Q8_0)
    fail(Status::InvalidArgument, "KV cache type {} (use f32, f16 or q8_0)", dtype_name(kv_type_));
  if (kv_type_ == DType::Q8_0 && hp.head_dim() % kQK != 0)
    fail(Status::Unsupported, "a q8_0 KV cache needs a head dimension divisible by 32 (this model's is {})",
         hp.head_dim());
  keep_all_ = params.all_logits;
}

Session::~Session() = default;

Session::Step& Session::step_for(int64_t n_tok, bool embd, const Executor::Progress& weights,
                                 const Executor::Progress& kernels) {
  const std::pair<int64_t, bool> key{n_tok, embd};
  if (auto it = steps_.find(key); it != steps_.end()) return *it->second;
  auto s = std::make_unique<Step>();
  const LlmGraphSpec spec{
      .n_tok = n_tok, .n_ctx = n_ctx_, .kv_type = kv_type_, .embd_input = embd, .all_logits = keep_all_};
  s->lg = build_llm_graph(model_.hparams(), model_.weights(), spec);
  Devices::Prepared p = devices_.prepare(s->lg->g, {.bind = [&](Executor& ex) { bind_caches(ex, *s->lg); },
                                                    .weights = weights,
                                                    .kernels = kernels,
                                                    .state_device = caches_.empty() ? -1 : cache_device_});
  s->plan = std::move(p.plan);
  s->ex = std::move(p.ex);
  return *(steps_[key] = std::move(s));
}

void Session::bind_caches(Executor& ex, const LlmGraph& lg) {
  const int dev = ex.state_device(lg.k_cache.front());
  for (size_t il = 0; il < lg.k_cache.size(); ++il)
    BLUECL_ASSERT(ex.state_device(lg.k_cache[il]) == dev && ex.state_device(lg.v_cache[il]) == dev,
                  "layer {}'s cache placed apart from layer 0's", il);
  if (caches_.empty() || dev != cache_device_) {
    // First use, or a fallback moved the ops that touch the cache: (re)allocate it there, keeping what it
    // holds, and forget the graphs placed for the old home.
    Backend& be = *devices_.backends()[dev];
    std::vector<std::unique_ptr<DeviceBuffer>> moved;
    std::vector<uint8_t> staging;
    for (size_t i = 0; i < 2 * lg.k_cache.size(); ++i) {
      const TensorInfo& t = lg.g.info(i % 2 ? lg.v_cache[i / 2] : lg.k_cache[i / 2]);
      moved.push_back(be.alloc(t.bytes(), t.name));
      if (caches_.empty() || n_past_ == 0) {
        be.fill(TensorRef{moved.back().get(), 0}, 0, t.bytes());
      } else {
        staging.resize(t.bytes());
        devices_.backends()[cache_device_]->read(TensorRef{caches_[i].get(), 0}, staging.data(),
                                                 staging.size());
        be.write(TensorRef{moved.back().get(), 0}, staging.data(), staging.size());
      }
    }
    if (!caches_.empty())
      log(LogLevel::Warn, "session", "the KV cache moves from {} to {}",
          devices_.backends()[cache_device_]->name(), be.name());
    caches_ = std::move(moved);
    cache_device_ = dev;
    steps_.clear();
    log(LogLevel::Info, "session", "KV cache: {} tokens of {} on {} ({})", n_ctx_, dtype_name(kv_type_),
        be.name(), format_bytes(kv_bytes()));
  }
  for (size_t il = 0; il < lg.k_cache.size(); ++il) {
    ex.bind_state(lg.k_cache[il], TensorRef{caches_[2 * il].get(), 0});
    ex.bind_state(lg.v_cache[il], TensorRef{caches_[2 * il + 1].get(), 0});
  }
}

void Session::prepare(const std::function<void(const char*, float)>& progress) {
  // The chunk graph uses every weight; the one-token graph then finds them all on their devices. Both
  // graphs have the same nodes but for the chunk size, so kernel progress counts each as half.
  Executor::Progress weights, first, second;
  if (progress) {
    weights = [&](size_t done, size_t total) { progress("loading weights", float(done) / float(total)); };
    first = [&](size_t done, size_t total) {
      progress("compiling kernels", 0.5f * float(done) / float(total));
    };
    second = [&](size_t done, size_t total) {
      progress("compiling kernels", 0.5f + 0.5f * float(done) / float(total));
    };
  }
  step_for(std::min(n_chunk_, n_ctx_), false, weights, first);
  step_for(1, false, nullptr, second);
}

void Session::run_chunk(Step& s, const void* input, size_t bytes, int64_t n_tok, const int32_t* ids) {
  TraceSpan span(
      n_tok == 1 ? fmt::format("decode @{}", n_past_) : fmt::format("prefill {} @{}", n_tok, n_past_),
      "language model");
  s.ex->set_input(s.lg->tokens, input, bytes);
  s.ex->run(bluecl::Step{static_cast<int32_t>(n_past_)});
  n_past_ += n_tok;
  if (ids)
    history_.insert(history_.end(), ids, ids + n_tok);
  else
    history_.insert(history_.end(), n_tok, kEmbeddingPosition);
  const int64_t n_vocab = model_.hparams().n_vocab;
  const int64_t rows = keep_all_ ? n_tok : 1;
  if (keep_all_) {
    const size_t at = all_logits_.size();
    all_logits_.resize(at + rows * n_vocab);
    s.ex->read(s.lg->logits, all_logits_.data() + at, rows * n_vocab * sizeof(float));
    logits_.assign(all_logits_.end() - n_vocab, all_logits_.end());
  } else {
    logits_.resize(n_vocab);
    s.ex->read(s.lg->logits, logits_.data(), n_vocab * sizeof(float));
  }
}

template <class RunChunks>
void Session::undo_on_error(RunChunks&& run_chunks) {
  // The rows of the previous call move into the mark (this call replaces them); the last logits are copied.
  Mark before{n_past_, logits_, std::move(all_logits_)};
  try {
    all_logits_.clear();
    run_chunks();
  } catch (...) {
    rewind(std::move(before));
    throw;
  }
}

void Session::prefill(std::span<const int32_t> tokens) {
  if (tokens.empty()) fail(Status::InvalidArgument, "nothing to prefill");
  if (n_past_ + static_cast<int64_t>(tokens.size()) > n_ctx_)
    fail(Status::ContextFull, "{} tokens after {} would exceed the context of {}", tokens.size(), n_past_,
         n_ctx_);
  const int64_t n_vocab = model_.hparams().n_vocab;
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab)
      fail(Status::InvalidArgument, "token id {} is outside the vocabulary (0..{})", t, n_vocab - 1);
  undo_on_error([&] {
    for (size_t i = 0; i < tokens.size(); i += n_chunk_) {
      const int64_t n = std::min<int64_t>(n_chunk_, tokens.size() - i);
      run_chunk(step_for(n, false), tokens.data() + i, n * sizeof(int32_t), n, tokens.data() + i);
    }
  });
}

void Session::prefill_embd(std::span<const float> embd) {
  const int64_t n_embd = model_.hparams().n_embd;
  if (embd.empty() || embd.size() % n_embd != 0)
    fail(Status::InvalidArgument, "{} floats is not a whole number of {}-dim embeddings", embd.size(),
         n_embd);
  const int64_t n_tok = static_cast<int64_t>(embd.size()) / n_embd;
  if (n_past_ + n_tok > n_ctx_)
    fail(Status::ContextFull, "{} embeddings after {} tokens would exceed the context of {}", n_tok, n_past_,
         n_ctx_);
  undo_on_error([&] {
    for (int64_t i = 0; i < n_tok; i += n_chunk_) {
      const int64_t n = std::min(n_chunk_, n_tok - i);
      run_chunk(step_for(n, true), embd.data() + i * n_embd, n * n_embd * sizeof(float), n, nullptr);
    }
  });
}

std::span<const float> Session::logits() const {
  if (logits_.empty()) fail(Status::InvalidArgument, "no logits yet: feed tokens first");
  return logits_;
}

void Session::truncate(int64_t n) {
  if (n < 0 || n > n_past_) fail(Status::InvalidArgument, "cannot truncate {} tokens to {}", n_past_, n);
  n_past_ = n;  // rows past n are overwritten by the next chunk; attention never reads beyond n_past
  history_.resize(n);
}

void Session::rewind(Mark m) {
  if (m.n_past > n_past_) fail(Status::InvalidArgument, "cannot rewind {} tokens to {}", n_past_, m.n_past);
  n_past_ = m.n_past;
  history_.resize(m.n_past);
  logits_ = std::move(m.logits);
  all_logits_ = std::move(m.all_logits);
}

size_t Session::kv_bytes() const {
  size_t total = 0;
  for (const auto& b : caches_) total += b->size();
  return total;
}

std::string Session::plan_text(int64_t n_tok) {
  Step& s = step_for(n_tok, false);
  return format_plan(s.lg->g, s.plan, devices_.backends());
}

}  // namespace bluecl
