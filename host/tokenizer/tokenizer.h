// Text <-> token ids for the two vocabulary kinds that GGUF language models carry, reproducing
// llama.cpp's llama_tokenize / llama_detokenize / llama_token_to_piece exactly:
// - "llama": SentencePiece-style. A space is prepended to the text (and after each special token), spaces
//   become U+2581, adjacent pieces are merged best-score-first (ties: leftmost), and characters with no
//   piece fall back to <0xAB> byte tokens.
// - "gpt2": byte-level BPE. The pre-tokenizer that tokenizer.ggml.pre names (GPT-2, Llama 3, Qwen2,
//   DeepSeek, Falcon, StarCoder and the other families llama.cpp knows; pre_tokenizer.h) splits the text
//   into words, each word's bytes are mapped to printable code points, and pairs are merged
//   lowest-rank-first (ties: leftmost).
// Loading validates the vocabulary (array sizes agree, special ids in range, no duplicate tokens) and
// throws Error(BadFile) naming the problem; a well-formed vocabulary of another kind (or a gpt2
// vocabulary with a pre-tokenizer name bluecl does not know) throws Error(Unsupported).
// A Tokenizer is immutable after creation and safe to use from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bluecl {

class GgufFile;

// tokenizer.ggml.token_type values (llama.cpp's LLAMA_TOKEN_TYPE_*).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6
};

struct Vocab {
  std::string model;  // tokenizer.ggml.model: "llama" or "gpt2"
  std::string pre;    // tokenizer.ggml.pre ("" when absent: llama.cpp's default pre-tokenizer)
  std::vector<std::string> tokens;
  std::vector<float> scores;        // one per token (0 when the file has none)
  std::vector<int32_t> types;       // one per token, TokenType values (Normal when the file has none)
  std::vector<std::string> merges;  // "left right", rank = index (gpt2 only)
  // Special ids, -1 when absent. Defaults follow llama.cpp: llama bos 1, eos 2, unk 0; gpt2 bos = eos = 11
  // (when those ids exist), each overridden by its tokenizer.ggml.*_token_id key.
  int32_t bos = -1, eos = -1, unk = -1, pad = -1, eot = -1, eom = -1;
  bool add_bos = false;  // tokenizer.ggml.add_bos_token (default: true for llama and Llama 3 style gpt2)
  bool add_eos = false;  // tokenizer.ggml.add_eos_token (default false)
  bool add_space_prefix = false;  // tokenizer.ggml.add_space_prefix (default: true for llama)
};

// Reads the tokenizer.ggml.* keys of a GGUF file and validates them.
Vocab load_vocab(const GgufFile& f);

class Tokenizer {
 public:
  // Validates `v` as load_vocab does (so a hand-built Vocab is checked too) and builds the lookup tables.
  static std::unique_ptr<Tokenizer> create(Vocab v);
  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // llama_tokenize(text, add_special, parse_special). add_special: prepend BOS when the vocabulary asks
  // for it (add_bos) and append EOS when it asks for that (add_eos). parse_special: text of control and
  // unknown tokens (e.g. "<s>") becomes those tokens; user-defined tokens are matched either way.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special = false) const;

  // llama_detokenize(ids, remove_special, unparse_special): concatenated pieces, where the first piece
  // loses one leading space when the vocabulary adds a space prefix, and gpt2 vocabularies whose
  // pre-tokenizer asks for it (GPT-2, Llama 3, Falcon, StarCoder; not Qwen2 or DeepSeek) clean up
  // spaces before punctuation and contractions (" ," -> ","), as llama.cpp does. remove_special drops a
  // leading BOS (then no space is stripped) and a trailing EOS when the vocabulary adds them;
  // unparse_special renders control tokens as their text instead of nothing.
  std::string decode(std::span<const int32_t> ids, bool remove_special = false,
                     bool unparse_special = false) const;

  // llama_token_to_piece(id, lstrip 0, special): the bytes of one token, possibly part of a UTF-8
  // character. Control and unknown tokens give "" unless `special`. Throws InvalidArgument for an id
  // out of range.
  std::string token_piece(int32_t id, bool special = false) const;

  int32_t n_vocab() const { return int32_t(vocab_.tokens.size()); }
  int32_t bos() const { return vocab_.bos; }
  int32_t eos() const { return vocab_.eos; }
  bool is_eog(int32_t id) const;  // end of generation: EOS, EOT, EOM and llama.cpp's end-of-turn texts
  TokenType token_type(int32_t id) const;
  const Vocab& vocab() const { return vocab_; }

 protected:
  explicit Tokenizer(Vocab v);
  // Tokenizes one text fragment (no special tokens in it) and appends to `out`. `after_special` is true
  // for the first fragment and for one that follows a special token.
  virtual void encode_fragment(std::string_view text, bool after_special,
                               std::vector<int32_t>& out) const = 0;
  virtual std::string normal_piece(int32_t id) const = 0;  // the bytes of a Normal token
  virtual bool clean_spaces() const { return false; }
  int32_t find_token(std::string_view text) const;  // -1 when absent

  Vocab vocab_;

 private:
  struct Index;
  std::unique_ptr<Index> index_;  // views into vocab_.tokens
  void build_index();
};

// Streams token pieces as text that never ends inside a UTF-8 character: push() returns the complete
// characters available so far, holding back a trailing incomplete sequence until later bytes complete
// it; flush() returns whatever is held. The concatenated output equals the concatenation of
// token_piece(id, special) over the pushed ids (which is decode(ids) for an SPM sequence that starts
// with BOS and needs no gpt2 clean-up).
class Detokenizer {
 public:
  explicit Detokenizer(const Tokenizer& tok, bool special = false) : tok_(tok), special_(special) {}
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool special_;
  std::string pending_;
};

}  // namespace bluecl
