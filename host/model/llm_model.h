// A language model loaded from a GGUF file (architecture "llama" or "bluelm"): hyper-parameters from
// metadata with the documented defaults, weight handles into the mapped file (checked for presence,
// shape and type), and the tokenizer from the file's vocabulary.
#pragma once

#include "graph/llm.h"
#include "host/gguf/gguf.h"
#include "host/tokenizer/tokenizer.h"

#include <memory>
#include <string>

namespace bluecl {

class LlmModel {
 public:
  // vocab_only: read just the tokenizer (vocabulary files carry no tensors).
  static std::unique_ptr<LlmModel> load(const std::string& path, bool vocab_only = false);

  const std::string& arch() const { return arch_; }
  const LlmHParams& hparams() const { return hp_; }
  const LlmWeights& weights() const { return w_; }
  const Tokenizer& tokenizer() const { return *tok_; }
  const GgufFile& file() const { return *file_; }
  bool vocab_only() const { return vocab_only_; }
  size_t weight_bytes() const;  // bytes of every tensor the graph uses (tied output counted once)
  // The matrices every token multiplies (layers and output head, not the embedding table).
  int64_t matmul_params() const;
  size_t matmul_weight_bytes() const;
  // Identifies the model a session state belongs to (host/session/session_state.cpp): a hash of the
  // architecture, the hyper-parameters, every tensor's name, type and shape, the whole of every 1-D tensor
  // (norms, biases) and the first bytes of the others, so that another model, or the same shapes with
  // other weights, gives another value. 0 for a vocabulary-only model.
  uint64_t fingerprint() const { return fingerprint_; }

 private:
  std::unique_ptr<GgufFile> file_;
  std::string arch_;
  LlmHParams hp_;
  LlmWeights w_;
  std::unique_ptr<Tokenizer> tok_;
  bool vocab_only_ = false;
  uint64_t fingerprint_ = 0;
};

}  // namespace bluecl
