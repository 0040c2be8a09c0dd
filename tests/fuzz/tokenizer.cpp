// Fuzz target "tokenizer": the vocabularies of tests/data/vocab (SentencePiece "llama", byte-level BPE
// "gpt2" with the GPT-2 pre-tokenizer, and the trimmed Llama 3, Qwen2, DeepSeek LLM, StarCoder and Falcon
// ones) on any text. The first byte picks the vocabulary (bit 0 and bits 5-7) and the flags; the rest is
// text to encode (then decode, and stream through the Detokenizer) or, with bit 3, token ids to decode.
// Checked: every id is in the vocabulary; the Detokenizer's output is exactly the concatenation of the
// pieces and never ends inside a UTF-8 character before flush; the words of every pre-tokenizer family
// cover valid UTF-8 text exactly.
#include "tests/fuzz/fuzz.h"

#include "graph/base/error.h"
#include "host/gguf/gguf.h"
#include "host/tokenizer/pre_tokenizer.h"
#include "host/tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

namespace bluecl::fuzz {
namespace {

// The vocabularies and their test-vector stems (vocab/<stem>.inp); the first two are the full files.
constexpr const char* kVocabFiles[] = {"ggml-vocab-llama-spm.gguf",         "ggml-vocab-gpt-2.gguf",
                                       "ggml-vocab-llama-bpe.trim.gguf",    "ggml-vocab-qwen2.trim.gguf",
                                       "ggml-vocab-deepseek-llm.trim.gguf", "ggml-vocab-starcoder.trim.gguf",
                                       "ggml-vocab-falcon.trim.gguf"};
constexpr const char* kVectorStems[] = {"ggml-vocab-llama-spm.gguf",    "ggml-vocab-gpt-2.gguf",
                                        "ggml-vocab-llama-bpe.gguf",    "ggml-vocab-qwen2.gguf",
                                        "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-starcoder.gguf",
                                        "ggml-vocab-falcon.gguf"};
constexpr int kVocabs = int(std::size(kVocabFiles));

const Tokenizer& vocab(int which) {
  static const auto toks = [] {
    std::vector<std::unique_ptr<Tokenizer>> t;
    for (const char* f : kVocabFiles)
      t.push_back(Tokenizer::create(load_vocab(*GgufFile::open(data_path(std::string("vocab/") + f)))));
    return t;
  }();
  return *toks[size_t(which)];
}

// Bit 0 and bits 5-7 of the flags byte; inputs from before the BPE families (bits 5-7 clear) keep their
// vocabulary.
int vocab_index(uint8_t flags) {
  return ((flags >> 5) * 2 + (flags & 1)) % kVocabs;
}
uint8_t vocab_flags(int v) {
  return uint8_t((v & 1) | ((v >> 1) << 5));
}

using detail::PreSplit;
constexpr PreSplit kSplits[] = {PreSplit::Default,    PreSplit::Gpt2,        PreSplit::Llama3,
                                PreSplit::Qwen2,      PreSplit::DeepseekLlm, PreSplit::DeepseekCoder,
                                PreSplit::DeepseekV3, PreSplit::Falcon,      PreSplit::Starcoder,
                                PreSplit::Tekken,     PreSplit::Gpt4o,       PreSplit::Bloom,
                                PreSplit::Viking};

// Whether `s` is well-formed UTF-8 (shortest forms, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    const int n = c < 0x80             ? 0
                  : (c & 0xe0) == 0xc0 ? 1
                  : (c & 0xf0) == 0xe0 ? 2
                  : (c & 0xf8) == 0xf0 ? 3
                                       : -1;
    if (n < 0 || s.size() - i <= size_t(n)) return false;
    uint32_t cp = n == 0 ? c : c & (0x7f >> (n + 1));
    for (int k = 1; k <= n; ++k) {
      const auto d = static_cast<uint8_t>(s[i + size_t(k)]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += size_t(n) + 1;
  }
  return true;
}

// Every prefix the Detokenizer returns ends on a character boundary when the pieces are valid UTF-8
// together; in any case the streamed text equals the concatenated pieces.
void stream(const Tokenizer& tok, const std::vector<int32_t>& ids, bool special) {
  Detokenizer d(tok, special);
  std::string streamed, pieces;
  for (int32_t id : ids) {
    streamed += d.push(id);
    pieces += tok.token_piece(id, special);
  }
  const std::string held = d.flush();
  BLUECL_FUZZ_CHECK(held.size() < 4);
  streamed += held;
  BLUECL_FUZZ_CHECK(streamed == pieces);
}

int run(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const Tokenizer& tok = vocab(vocab_index(flags));
  const bool add_special = flags & 2, parse_special = flags & 4, special = flags & 16;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<int32_t> ids;
  if (flags & 8) {
    // Ids from the bytes, 2 at a time; a few past the vocabulary must be refused with InvalidArgument.
    for (size_t i = 0; i + 1 < text.size(); i += 2) {
      const int v = static_cast<uint8_t>(text[i]) | static_cast<uint8_t>(text[i + 1]) << 8;
      ids.push_back(int32_t(v % (tok.n_vocab() + 8)));
    }
    bool out_of_range = false;
    for (int32_t id : ids) out_of_range |= id >= tok.n_vocab();
    try {
      (void)tok.decode(ids, add_special, special);
      BLUECL_FUZZ_CHECK(!out_of_range);
    } catch (const Error& e) {
      BLUECL_FUZZ_CHECK(out_of_range && e.status() == Status::InvalidArgument);
      return 0;
    }
  } else {
    ids = tok.encode(text, add_special, parse_special);
    for (int32_t id : ids) BLUECL_FUZZ_CHECK(id >= 0 && id < tok.n_vocab());
    (void)tok.decode(ids, add_special, special);
    if (valid_utf8(text)) {
      for (const PreSplit split : kSplits) {
        std::string joined;
        for (const std::string& w : detail::pre_tokenize(split, text)) {
          BLUECL_FUZZ_CHECK(!w.empty());
          joined += w;
        }
        BLUECL_FUZZ_CHECK(joined == text);
      }
    }
  }
  for (int32_t id : ids) {
    (void)tok.is_eog(id);
    (void)tok.token_type(id);
  }
  stream(tok, ids, special);
  return 0;
}

// Every test string of tests/data/vocab/*.inp, for its vocabulary, with a few flag combinations, and the
// expected ids of the .out files of the two full vocabularies as id inputs (the trimmed ones number
// their tokens differently).
void seeds(const std::function<void(const std::string&, const Bytes&)>& emit) {
  static const char* const prefixes[kVocabs] = {"spm-",      "bpe-",       "llama-bpe-", "qwen2-",
                                                "deepseek-", "starcoder-", "falcon-"};
  for (int v = 0; v < kVocabs; ++v) {
    const std::string stem = std::string("vocab/") + kVectorStems[v];
    const uint8_t vf = vocab_flags(v);
    const Bytes inp = read_bytes(data_path(stem + ".inp"));
    const std::string all(inp.begin(), inp.end());
    const std::string sep = "\n__ggml_vocab_test__\n";
    size_t at = 0, k = 0;
    while (at <= all.size()) {
      size_t end = all.find(sep, at);
      if (end == std::string::npos) end = all.size();
      const std::string s = all.substr(at, end - at);
      for (uint8_t f : {vf, uint8_t(vf | 2 | 4), uint8_t(vf | 16)}) {
        Bytes b(1 + s.size(), f);
        std::copy(s.begin(), s.end(), b.begin() + 1);
        emit(prefixes[v] + std::to_string(k) + "-" + std::to_string(f), b);
      }
      ++k;
      at = end + sep.size();
    }
    if (v >= 2) continue;
    std::ifstream out(data_path(stem + ".out"));
    std::string line;
    for (int n = 0; std::getline(out, line) && n < 40; ++n) {
      Bytes b{uint8_t(v | 8 | (n % 2 ? 16 : 0))};
      std::istringstream ls(line);
      int id = 0;
      while (ls >> id) {
        b.push_back(uint8_t(id & 0xff));
        b.push_back(uint8_t(id >> 8));
      }
      emit(std::string(v ? "bpe-ids-" : "spm-ids-") + std::to_string(n), b);
    }
  }
}

}  // namespace
}  // namespace bluecl::fuzz

BLUECL_FUZZ_TARGET(tokenizer, bluecl::fuzz::run, bluecl::fuzz::seeds)
