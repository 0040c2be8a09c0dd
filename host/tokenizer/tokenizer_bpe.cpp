// The "gpt2" (byte-level BPE) tokenizer, as llama.cpp's llm_tokenizer_bpe runs it.
//
// The fragment is split into words by the pre-tokenizer the vocabulary names (pre_tokenizer.cpp), each
// word's UTF-8 bytes are mapped to GPT-2's printable code points, the word is cut into those characters,
// and the adjacent pair with the lowest merge rank is merged until no pair has a rank (equal ranks: the
// leftmost pair). Pre-tokenizers with ignore_merges (Llama 3's) take a word that is a token as a whole
// as that token first. Each final symbol is emitted as its token; a symbol that is not a token (only
// possible with an inconsistent vocabulary) is emitted as the tokens of its single bytes, skipping
// bytes that have none, as llama.cpp does.
#include "host/tokenizer/tokenizer.h"

#include "host/tokenizer/pre_tokenizer.h"
#include "host/tokenizer/unicode.h"

#include <fmt/format.h>

#include <queue>
#include <unordered_map>

namespace bluecl {
namespace {

struct SvHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(Vocab v) : Tokenizer(std::move(v)), pre_(*detail::find_pre_tokenizer(vocab_.pre)) {
    ranks_.reserve(vocab_.merges.size());
    for (size_t i = 0; i < vocab_.merges.size(); ++i) {
      // llama.cpp splits at the first space after the first character; a merge without one never
      // applies. Symbols never contain a raw space (bytes are mapped), so "left right" is unambiguous.
      const std::string& m = vocab_.merges[i];
      if (m.size() < 2 || m.find(' ', 1) == std::string::npos) continue;
      ranks_.emplace(m, int32_t(i));  // a repeated merge keeps its first rank
    }
  }

 protected:
  void encode_fragment(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;
  bool clean_spaces() const override { return pre_.clean_spaces; }

  // Maps GPT-2's printable code points back to bytes; anything else is shown as llama.cpp shows it.
  std::string normal_piece(int32_t id) const override {
    const std::string& t = vocab_.tokens[size_t(id)];
    std::string s;
    for (uint32_t cpt : unicode::to_codepoints(t)) {
      const int b = unicode::cpt_to_byte(cpt);
      if (b >= 0) {
        s += char(b);
        continue;
      }
      s += "[UNK_BYTE_0x";
      for (char c : unicode::to_utf8(cpt)) s += fmt::format("{:02x}", uint8_t(c));
      s += t;
      s += ']';
    }
    return s;
  }

 private:
  const detail::PreTokenizer& pre_;  // validate() has checked that the name is known
  std::unordered_map<std::string, int32_t, SvHash, std::equal_to<>> ranks_;  // "left right" -> rank
  void encode_word(const std::string& word, std::vector<int32_t>& out) const;
};

struct Symbol {
  int32_t prev, next;
  uint32_t offset, len;  // into the word; len 0 once merged into its left neighbour
};

struct Bigram {
  int32_t left, right;
  int32_t rank;
  uint32_t len;  // bytes of the merged text
};

// Lowest rank on top; equal ranks: the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

void BpeTokenizer::encode_fragment(std::string_view text, bool, std::vector<int32_t>& out) const {
  std::string mapped;
  for (const std::string& word : detail::pre_tokenize(pre_.split, text)) {
    mapped.clear();
    for (char c : word) unicode::append_utf8(mapped, unicode::byte_to_cpt(uint8_t(c)));
    if (pre_.ignore_merges) {
      if (const int32_t id = find_token(mapped); id >= 0) {
        out.push_back(id);
        continue;
      }
    }
    encode_word(mapped, out);
  }
}

void BpeTokenizer::encode_word(const std::string& word, std::vector<int32_t>& out) const {
  std::vector<Symbol> syms;
  for (size_t off = 0; off < word.size();) {
    const size_t len = std::min(unicode::utf8_seq_len(uint8_t(word[off])), word.size() - off);
    const int32_t idx = int32_t(syms.size());
    syms.push_back({idx - 1, off + len == word.size() ? -1 : idx + 1, uint32_t(off), uint32_t(len)});
    off += len;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  std::string key;
  const auto text_of = [&](const Symbol& s) { return std::string_view(word).substr(s.offset, s.len); };
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = syms[size_t(left)];
    const Symbol& r = syms[size_t(right)];
    key.assign(text_of(l));
    key += ' ';
    key += text_of(r);
    const auto it = ranks_.find(key);
    if (it == ranks_.end()) return;
    queue.push({left, right, it->second, l.len + r.len});
  };
  for (int32_t i = 1; i < int32_t(syms.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = syms[size_t(b.left)];
    Symbol& r = syms[size_t(b.right)];
    // Symbols only grow, so a pair whose lengths no longer add up was changed by another merge.
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[size_t(r.next)].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[size_t(i)].next) {
    const std::string_view piece = text_of(syms[size_t(i)]);
    if (const int32_t id = find_token(piece); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (size_t k = 0; k < piece.size(); ++k) {
      if (const int32_t id = find_token(piece.substr(k, 1)); id >= 0) out.push_back(id);
    }
  }
}

}  // namespace

namespace detail {
std::unique_ptr<Tokenizer> make_bpe_tokenizer(Vocab v) {
  return std::make_unique<BpeTokenizer>(std::move(v));
}
}  // namespace detail

}  // namespace bluecl
