// The pre-tokenizers of byte-level BPE ("gpt2") vocabularies: how llama.cpp splits text into words
// before merging, chosen by the file's tokenizer.ggml.pre name.
//
// Each family is a list of split rules (the regexes llama.cpp gives for it), applied one after another:
// every rule splits each piece that the previous rules left into its matches and the text between
// them, with the leftmost-first semantics of llama.cpp's splitters (its hand-written GPT-2 and Llama 3
// splitters, and std::regex with \p{..} classes read from unicode_class for the others). The rules are
// written by hand here; there is no regex engine. Code points come from the text as
// unicode::to_codepoints reads it (invalid bytes are U+FFFD).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bluecl::detail {

// One family of split rules; several pre-tokenizer names share one.
enum class PreSplit : uint8_t {
  Default,        // no pre-tokenizer name: [\p{P}$+<=>^~|]+, the GPT-2 regex, \p{N}+, [0-9]{3}
  Gpt2,           // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Llama3,         // (?i:'s|..)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|..
  Qwen2,          // as Llama3 with single digits: \p{N}
  DeepseekLlm,    // [\r\n], \s?<cased letters>+, \s?<ASCII and CJK punctuation>+, \s+$, <CJK>+, \p{N}+
  DeepseekCoder,  // [\r\n], \s?\p{L}+, \s?\p{P}+, <CJK>+, \p{N}
  DeepseekV3,     // \p{N}{1,3}, <CJK and kana>+, [punct][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|..
  Falcon,         // [\p{P}$+<=>^~|`]+, the GPT-2 regex, [0-9]{3}
  Starcoder,      // \p{N}, the GPT-2 regex
  Tekken,         // [^\r\n\p{L}\p{N}]?<upper>*<lower>+|..<upper>+<lower>*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|..
  Gpt4o,          // as Tekken with a contraction after a word and \p{N}{1,3}
  Bloom,          //  ?[^(\s|.,!?…。，、।۔،)]+
  Viking,         // as Bloom, then \p{N}
};

struct PreTokenizer {
  std::string_view name;  // the tokenizer.ggml.pre value
  PreSplit split;
  bool clean_spaces;   // detokenising drops the space before punctuation and some contractions
  bool ignore_merges;  // a word that is a token as a whole becomes that token without merging
  bool add_bos;        // the default of tokenizer.ggml.add_bos_token
  bool no_bos;         // no default BOS id (tokenizer.ggml.bos_token_id can still name one)
};

// The pre-tokenizer a name selects, as llama.cpp maps it; nullptr for a name it does not know or that
// bluecl does not implement. An empty name selects Default (llama.cpp warns that quality degrades).
const PreTokenizer* find_pre_tokenizer(std::string_view name);

// Every supported name, comma-separated, for error messages.
std::string supported_pre_tokenizers();

// Splits `text` into words (UTF-8). The words concatenate to the text when it is valid UTF-8.
std::vector<std::string> pre_tokenize(PreSplit split, std::string_view text);

inline std::vector<std::string> gpt2_split(std::string_view text) {
  return pre_tokenize(PreSplit::Gpt2, text);
}

}  // namespace bluecl::detail
