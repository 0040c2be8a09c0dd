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

 private:
  std::unique_ptr<GgufFile> file_;
  std::string arch_;
  LlmHParams hp_;
  LlmWeights w_;
  std::unique_ptr<Tokenizer> tok_;
  bool vocab_only_ = false;
};

}  // namespace bluecl
