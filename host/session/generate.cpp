#include "host/session/generate.h"

#include "graph/base/error.h"

#include <chrono>

namespace bluecl {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Length of the longest suffix of `text` that is a proper prefix of some stop string: that much must
// be held back until more text arrives.
size_t held_back(std::string_view text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const std::string& s : stops)
    for (size_t n = std::min(text.size(), s.size() - 1); n > hold; --n)
      if (text.substr(text.size() - n) == std::string_view(s).substr(0, n)) {
        hold = n;
        break;
      }
  return hold;
}

}  // namespace

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Budget:
      return "token budget";
    case StopReason::EndOfGeneration:
      return "end of generation";
    case StopReason::StopString:
      return "stop string";
    case StopReason::Cancelled:
      return "cancelled";
    case StopReason::ContextFull:
      return "context full";
  }
  return "?";
}

std::string chat_prompt(std::string_view user) {
  return "[|Human|]:" + std::string(user) + "\n[|AI|]:";
}

GenerateResult generate(Session& s, const Tokenizer& tok, std::span<const int32_t> prompt,
                        const GenerateParams& p) {
  for (const std::string& st : p.stop)
    if (st.empty()) fail(Status::InvalidArgument, "empty stop string");
  const auto t0 = std::chrono::steady_clock::now();
  if (!prompt.empty()) s.prefill(prompt);
  const double prefill_ms = ms_since(t0);
  GenerateResult r = generate_continue(s, tok, prompt, p);
  r.n_prompt = static_cast<int>(prompt.size());
  r.prefill_ms = prefill_ms;
  return r;
}

GenerateResult generate_continue(Session& s, const Tokenizer& tok, std::span<const int32_t> seen,
                                 const GenerateParams& p) {
  for (const std::string& st : p.stop)
    if (st.empty()) fail(Status::InvalidArgument, "empty stop string");
  GenerateResult r;
  Sampler sampler(p.sampling);
  for (int32_t t : seen) sampler.accept(t);

  Detokenizer detok(tok);
  std::string pending;  // streamed-out text not yet passed to the callback
  auto emit = [&](int32_t token, size_t n) {
    const std::string out = pending.substr(0, n);
    pending.erase(0, n);
    r.text += out;
    return !p.on_token || p.on_token(token, out);
  };
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    if (p.n_predict >= 0 && r.n_generated >= p.n_predict) {
      r.reason = StopReason::Budget;
      break;
    }
    const int32_t t = sampler.sample(s.logits());
    if (tok.is_eog(t)) {
      r.reason = StopReason::EndOfGeneration;
      if (s.n_past() < s.n_ctx()) s.decode(t);  // the turn's end belongs in the context of the next one
      break;
    }
    ++r.n_generated;
    pending += detok.push(t);
    size_t stop_at = std::string::npos;
    for (const std::string& st : p.stop) stop_at = std::min(stop_at, pending.find(st));
    if (stop_at != std::string::npos) {
      emit(t, stop_at);
      r.reason = StopReason::StopString;
      break;
    }
    if (!emit(t, pending.size() - held_back(pending, p.stop))) {
      r.reason = StopReason::Cancelled;
      if (s.n_past() < s.n_ctx()) s.decode(t);  // the user saw it: keep it in the context
      break;
    }
    if (s.n_past() >= s.n_ctx()) {
      r.reason = StopReason::ContextFull;
      break;
    }
    s.decode(t);
  }
  r.decode_ms = ms_since(t0);
  if (r.reason != StopReason::StopString && r.reason != StopReason::Cancelled) {
    pending += detok.flush();
    if (!pending.empty()) emit(-1, pending.size());
  }
  return r;
}

}  // namespace bluecl
