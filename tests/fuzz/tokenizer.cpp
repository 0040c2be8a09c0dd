// Fuzz target "tokenizer": both vocabulary kinds of tests/data/vocab (SentencePiece "llama" and
// byte-level BPE "gpt2") on any text. The first byte picks the vocabulary and the flags; the rest is
// text to encode (then decode, and stream through the Detokenizer) or, with bit 3, token ids to decode.
// Checked: every id is in the vocabulary; the Detokenizer's output is exactly the concatenation of the
// pieces and never ends inside a UTF-8 character before flush; the GPT-2 pre-tokenizer's words cover
// valid UTF-8 text exactly.
#include "tests/fuzz/fuzz.h"

#include "graph/base/error.h"
#include "host/gguf/gguf.h"
#include "host/tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace bluecl::fuzz {
namespace {

const Tokenizer& vocab(int which) {
  static const std::unique_ptr<Tokenizer> toks[2] = {
      Tokenizer::create(load_vocab(*GgufFile::open(data_path("vocab/ggml-vocab-llama-spm.gguf")))),
      Tokenizer::create(load_vocab(*GgufFile::open(data_path("vocab/ggml-vocab-gpt-2.gguf"))))};
  return *toks[which];
}

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
  const Tokenizer& tok = vocab(flags & 1);
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
      std::string joined;
      for (const std::string& w : detail::gpt2_split(text)) joined += w;
      BLUECL_FUZZ_CHECK(joined == text);
    }
  }
  for (int32_t id : ids) {
    (void)tok.is_eog(id);
    (void)tok.token_type(id);
  }
  stream(tok, ids, special);
  return 0;
}

// Every test string of tests/data/vocab/*.inp, for both vocabularies, with a few flag combinations,
// and the expected ids of the .out files as id inputs.
void seeds(const std::function<void(const std::string&, const Bytes&)>& emit) {
  const char* stems[2] = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf"};
  for (int v = 0; v < 2; ++v) {
    const Bytes inp = read_bytes(data_path(std::string(stems[v]) + ".inp"));
    const std::string all(inp.begin(), inp.end());
    const std::string sep = "\n__ggml_vocab_test__\n";
    size_t at = 0, k = 0;
    while (at <= all.size()) {
      size_t end = all.find(sep, at);
      if (end == std::string::npos) end = all.size();
      const std::string s = all.substr(at, end - at);
      for (uint8_t f : {uint8_t(v), uint8_t(v | 2 | 4), uint8_t(v | 16)}) {
        Bytes b(1 + s.size(), f);
        std::copy(s.begin(), s.end(), b.begin() + 1);
        emit(std::string(v ? "bpe-" : "spm-") + std::to_string(k) + "-" + std::to_string(f), b);
      }
      ++k;
      at = end + sep.size();
    }
    std::ifstream out(data_path(std::string(stems[v]) + ".out"));
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
