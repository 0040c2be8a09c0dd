// Text generation on a session: prefill the prompt, then sample, stream and feed tokens until the
// token budget, an end-of-generation token, a stop string, a cancelling callback or the context's end.
// Streamed text never contains a stop string, nor a partial UTF-8 character: text that might be the
// start of a stop string is held back until it is known not to be.
#pragma once

#include "host/session/sampler.h"
#include "host/session/session.h"
#include "host/tokenizer/tokenizer.h"

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bluecl {

enum class StopReason { Budget, EndOfGeneration, StopString, Cancelled, ContextFull };
const char* stop_reason_name(StopReason r);

struct GenerateParams {
  int n_predict = 128;  // < 0: until EOS, a stop string or the context's end
  SamplerParams sampling;
  std::vector<std::string> stop;
  // Called with each token and the text it completes (possibly empty); returning false cancels.
  std::function<bool(int32_t token, std::string_view text)> on_token;
};

struct GenerateResult {
  int n_prompt = 0, n_generated = 0;
  double prefill_ms = 0, decode_ms = 0;  // wall time
  StopReason reason = StopReason::Budget;
  std::string text;  // everything streamed
};

GenerateResult generate(Session& s, const Tokenizer& tok, std::span<const int32_t> prompt,
                        const GenerateParams& p);

// The generation loop alone, for a prompt already in the session (a multimodal prefill: text and image
// embeddings). `seen` are the prompt's token ids, which the sampler's repetition penalty looks back over
// (image tokens have none). Leaves n_prompt and prefill_ms at 0 for the caller to fill.
GenerateResult generate_continue(Session& s, const Tokenizer& tok, std::span<const int32_t> seen,
                                 const GenerateParams& p);

// BlueLM's chat template: "[|Human|]:{prompt}\n[|AI|]:".
std::string chat_prompt(std::string_view user);

}  // namespace bluecl
