// The "gpt2" (byte-level BPE) tokenizer, as llama.cpp's llm_tokenizer_bpe runs it with the GPT-2
// pre-tokenizer.
//
// The fragment is split into words by the GPT-2 regex (hand-written below with the regex's semantics,
// including the \s+(?!\S) lookahead), each word's UTF-8 bytes are mapped to GPT-2's printable code
// points, the word is cut into those characters, and the adjacent pair with the lowest merge rank is
// merged until no pair has a rank (equal ranks: the leftmost pair). Each final symbol is emitted as its
// token; a symbol that is not a token (only possible with an inconsistent vocabulary) is emitted as the
// tokens of its single bytes, skipping bytes that have none, as llama.cpp does.
#include "host/tokenizer/tokenizer.h"

#include "host/tokenizer/unicode.h"

#include <fmt/format.h>

#include <queue>
#include <unordered_map>

namespace bluecl {
namespace detail {

bool bpe_pre_supported(std::string_view pre) {
  // The pre-tokenizer names that llama.cpp maps to the GPT-2 regex with clean-up of spaces.
  for (std::string_view p : {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
                             "mpt", "olmo", "jais", "a.x-4.0", "mellum", "modern-bert"}) {
    if (pre == p) return true;
  }
  return false;
}

std::vector<std::string> gpt2_split(std::string_view text) {
  const std::vector<uint32_t> cpts = unicode::to_codepoints(text);
  const size_t n = cpts.size();
  std::vector<std::string> words;
  const auto emit = [&](size_t begin, size_t end) {
    std::string w;
    for (size_t i = begin; i < end; ++i) unicode::append_utf8(w, cpts[i]);
    words.push_back(std::move(w));
  };
  const auto letter = [&](size_t i) { return i < n && unicode::is_letter(cpts[i]); };
  const auto number = [&](size_t i) { return i < n && unicode::is_number(cpts[i]); };
  const auto space = [&](size_t i) { return i < n && unicode::is_whitespace(cpts[i]); };
  const auto other = [&](size_t i) { return i < n && !space(i) && !letter(i) && !number(i); };

  for (size_t pos = 0; pos < n;) {
    const uint32_t c = cpts[pos];
    // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
    if (c == '\'' && pos + 1 < n) {
      const uint32_t c1 = cpts[pos + 1];
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        emit(pos, pos + 2), pos += 2;
        continue;
      }
      if (pos + 2 < n) {
        const uint32_t c2 = cpts[pos + 2];
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
          emit(pos, pos + 3), pos += 3;
          continue;
        }
      }
    }
    //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+ : an optional space, then a run of one class
    const size_t start = c == ' ' ? pos + 1 : pos;
    size_t end = start;
    if (letter(start)) {
      while (letter(end)) ++end;
    } else if (number(start)) {
      while (number(end)) ++end;
    } else if (other(start)) {
      while (other(end)) ++end;
    }
    if (end > start) {
      emit(pos, end), pos = end;
      continue;
    }
    // \s+(?!\S) | \s+ : a whitespace run, less its last character when a non-space follows it
    size_t k = 0;
    while (space(pos + k)) ++k;
    if (k > 1 && pos + k < n) {
      emit(pos, pos + k - 1), pos += k - 1;
    } else if (k > 0) {
      emit(pos, pos + k), pos += k;
    } else {
      emit(pos, pos + 1), pos += 1;  // unreachable: every code point is in one of the classes
    }
  }
  return words;
}

}  // namespace detail

namespace {

struct SvHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(Vocab v) : Tokenizer(std::move(v)) {
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
  bool clean_spaces() const override { return true; }

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
  for (const std::string& word : detail::gpt2_split(text)) {
    mapped.clear();
    for (char c : word) unicode::append_utf8(mapped, unicode::byte_to_cpt(uint8_t(c)));
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
