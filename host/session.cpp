#include "host/session.h"

#include "graph/error.h"
#include "graph/log.h"

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
    if (b->kind() == DeviceKind::OpenCl) return static_cast<const ClBackend*>(b)->features().fp16 ? DType::F16 : DType::F32;
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
    fail(Status::Unsupported, "a q8_0 KV cache needs a head dimension divisible by 32 (this model's is {})", hp.head_dim());
  keep_all_ = params.all_logits;
}

Session::~Session() = default;

Session::Step& Session::step_for(int64_t n_tok, bool embd, const Executor::Progress& progress) {
  auto& slot = steps_[{n_tok, embd}];
  if (slot) return *slot;
  auto s = std::make_unique<Step>();
  const LlmGraphSpec spec{.n_tok = n_tok, .n_ctx = n_ctx_, .kv_type = kv_type_, .embd_input = embd, .all_logits = keep_all_};
  s->lg = build_llm_graph(model_.hparams(), model_.weights(), spec);
  s->plan = schedule(s->lg->g, devices_.backends(), devices_.schedule_options());
  s->ex = std::make_unique<Executor>(s->lg->g, s->plan, devices_.backends(), progress);
  const std::vector<Tensor>& kc = s->lg->k_cache;
  const std::vector<Tensor>& vc = s->lg->v_cache;
  const int dev = s->ex->state_device(kc.front());
  if (caches_.empty()) {  // the first graph decides where the cache lives
    cache_device_ = dev;
    Backend& be = *devices_.backends()[dev];
    for (size_t il = 0; il < kc.size(); ++il) {
      for (Tensor t : {kc[il], vc[il]}) {
        caches_.push_back(be.alloc(s->lg->g.info(t).bytes(), s->lg->g.info(t).name));
        be.fill(TensorRef{caches_.back().get(), 0}, 0, s->lg->g.info(t).bytes());
      }
    }
    log(LogLevel::Info, "session", "KV cache: {} tokens of {} on {} ({:.1f} MiB)", n_ctx_, dtype_name(kv_type_),
        be.name(), kv_bytes() / 1048576.0);
  }
  for (size_t il = 0; il < kc.size(); ++il) {
    BLUECL_ASSERT(s->ex->state_device(kc[il]) == cache_device_ && s->ex->state_device(vc[il]) == cache_device_,
                  "layer {}'s cache placed on another device for a chunk of {}", il, n_tok);
    s->ex->bind_state(kc[il], TensorRef{caches_[2 * il].get(), 0});
    s->ex->bind_state(vc[il], TensorRef{caches_[2 * il + 1].get(), 0});
  }
  slot = std::move(s);
  return *slot;
}

void Session::prepare(const std::function<void(const char*, float)>& progress) {
  // The chunk graph uses every weight; the one-token graph then finds them all on their devices.
  Executor::Progress weights;
  if (progress) weights = [&](size_t done, size_t total) { progress("loading weights", float(done) / float(total)); };
  Step& chunk = step_for(std::min(n_chunk_, n_ctx_), false, weights);
  Step& one = step_for(1, false);
  const size_t total = chunk.lg->g.nodes().size() + one.lg->g.nodes().size();
  size_t base = 0;
  for (Step* s : {&chunk, &one}) {
    s->ex->prepare([&](size_t done, size_t) {
      if (progress) progress("compiling kernels", float(base + done) / float(total));
    });
    base += s->lg->g.nodes().size();
  }
}

void Session::run_chunk(Step& s, const void* input, size_t bytes, int64_t n_tok) {
  s.ex->set_input(s.lg->tokens, input, bytes);
  s.ex->run(bluecl::Step{static_cast<int32_t>(n_past_)});
  n_past_ += n_tok;
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

void Session::prefill(std::span<const int32_t> tokens) {
  if (tokens.empty()) fail(Status::InvalidArgument, "nothing to prefill");
  if (n_past_ + static_cast<int64_t>(tokens.size()) > n_ctx_)
    fail(Status::ContextFull, "{} tokens after {} would exceed the context of {}", tokens.size(), n_past_, n_ctx_);
  const int64_t n_vocab = model_.hparams().n_vocab;
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab) fail(Status::InvalidArgument, "token id {} is outside the vocabulary (0..{})", t, n_vocab - 1);
  all_logits_.clear();
  for (size_t i = 0; i < tokens.size(); i += n_chunk_) {
    const int64_t n = std::min<int64_t>(n_chunk_, tokens.size() - i);
    run_chunk(step_for(n, false), tokens.data() + i, n * sizeof(int32_t), n);
  }
}

void Session::prefill_embd(std::span<const float> embd) {
  const int64_t n_embd = model_.hparams().n_embd;
  if (embd.empty() || embd.size() % n_embd != 0)
    fail(Status::InvalidArgument, "{} floats is not a whole number of {}-dim embeddings", embd.size(), n_embd);
  const int64_t n_tok = static_cast<int64_t>(embd.size()) / n_embd;
  if (n_past_ + n_tok > n_ctx_)
    fail(Status::ContextFull, "{} embeddings after {} tokens would exceed the context of {}", n_tok, n_past_, n_ctx_);
  all_logits_.clear();
  for (int64_t i = 0; i < n_tok; i += n_chunk_) {
    const int64_t n = std::min(n_chunk_, n_tok - i);
    run_chunk(step_for(n, true), embd.data() + i * n_embd, n * n_embd * sizeof(float), n);
  }
}

std::span<const float> Session::logits() const {
  if (logits_.empty()) fail(Status::InvalidArgument, "no logits yet: feed tokens first");
  return logits_;
}

void Session::truncate(int64_t n) {
  if (n < 0 || n > n_past_) fail(Status::InvalidArgument, "cannot truncate {} tokens to {}", n_past_, n);
  n_past_ = n;  // rows past n are overwritten by the next chunk; attention never reads beyond n_past
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
