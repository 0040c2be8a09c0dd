// The "llama" (SentencePiece-style) tokenizer, as llama.cpp's llm_tokenizer_spm runs it.
//
// A fragment gets a leading space when the vocabulary adds a space prefix and the fragment starts the
// text or follows a special token; every space becomes U+2581. The text is cut into characters by the
// length their lead byte announces; then, repeatedly, the adjacent pair whose concatenation is a token
// with the highest score is merged (equal scores: the leftmost pair). A final symbol that is a token is
// emitted as such; any other symbol (necessarily a single character, since every merge forms a token)
// is emitted byte by byte as <0xAB> tokens. Cost: O(n log n) in the fragment length.
#include "host/tokenizer/tokenizer.h"

#include "graph/base/error.h"
#include "host/tokenizer/unicode.h"

#include <array>
#include <queue>

namespace bluecl {
namespace {

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocab v) : Tokenizer(std::move(v)) {}

 protected:
  void encode_fragment(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;

  std::string normal_piece(int32_t id) const override {
    const std::string& t = vocab_.tokens[size_t(id)];
    std::string s;
    s.reserve(t.size());
    for (size_t i = 0; i < t.size(); ++i) {
      if (t.compare(i, 3, "\xE2\x96\x81") == 0) {
        s += ' ';
        i += 2;
      } else {
        s += t[i];
      }
    }
    return s;
  }

 private:
  int32_t byte_token(uint8_t b) const;
};

struct Symbol {
  int32_t prev, next;
  uint32_t offset, len;  // into the escaped text; len 0 once merged into its left neighbour
};

struct Bigram {
  int32_t left, right;
  float score;
  uint32_t len;  // bytes of the merged text, to recognise a pair made stale by another merge
};

// Highest score on top; equal scores: the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

// The token for byte b: "<0xAB>" (upper-case hex), else a token that is the byte itself, as llama.cpp's
// byte_to_token looks them up; -1 if the vocabulary has neither.
int32_t SpmTokenizer::byte_token(uint8_t b) const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
  const int32_t id = find_token(std::string_view(name, 6));
  return id >= 0 ? id : find_token(std::string_view(reinterpret_cast<const char*>(&b), 1));
}

void SpmTokenizer::encode_fragment(std::string_view raw, bool after_special,
                                   std::vector<int32_t>& out) const {
  std::string text;
  text.reserve(raw.size() * 3 + 3);
  if (vocab_.add_space_prefix && after_special) text += "\xE2\x96\x81";
  for (char c : raw) {
    if (c == ' ') {
      text += "\xE2\x96\x81";
    } else {
      text += c;
    }
  }
  if (text.size() > UINT32_MAX / 2)
    fail(Status::InvalidArgument, "text of {} bytes is too long to tokenize", raw.size());

  std::vector<Symbol> syms;
  syms.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const size_t len = std::min(unicode::utf8_seq_len(uint8_t(text[off])), text.size() - off);
    const int32_t idx = int32_t(syms.size());
    syms.push_back({idx - 1, off + len == text.size() ? -1 : idx + 1, uint32_t(off), uint32_t(len)});
    off += len;
  }

  std::vector<Bigram> storage;
  storage.reserve(syms.size());
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue(BigramOrder{}, std::move(storage));
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = syms[size_t(left)];
    const uint32_t len = l.len + syms[size_t(right)].len;
    const int32_t id = find_token(std::string_view(text).substr(l.offset, len));
    if (id < 0) return;
    queue.push({left, right, vocab_.scores[size_t(id)], len});
  };
  for (int32_t i = 1; i < int32_t(syms.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = syms[size_t(b.left)];
    Symbol& r = syms[size_t(b.right)];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[size_t(r.next)].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[size_t(i)].next) {
    const Symbol& s = syms[size_t(i)];
    const std::string_view piece = std::string_view(text).substr(s.offset, s.len);
    if (const int32_t id = find_token(piece); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) {
      const int32_t id = byte_token(uint8_t(c));
      if (id >= 0) {
        out.push_back(id);
      } else if (vocab_.unk >= 0) {
        // llama.cpp fails here; a vocabulary without byte tokens gets <unk> instead.
        out.push_back(vocab_.unk);
      }
    }
  }
}

}  // namespace

namespace detail {
std::unique_ptr<Tokenizer> make_spm_tokenizer(Vocab v) {
  return std::make_unique<SpmTokenizer>(std::move(v));
}
}  // namespace detail

}  // namespace bluecl
