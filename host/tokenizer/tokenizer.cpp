// Vocabulary loading and validation, and the parts of tokenizing common to both vocabulary kinds:
// splitting out special tokens, BOS/EOS, token pieces, whole-sequence detokenisation with llama.cpp's
// space handling, and streaming detokenisation. The merge algorithms live in tokenizer_spm.cpp and
// tokenizer_bpe.cpp.
#include "host/tokenizer/tokenizer.h"

#include "graph/base/error.h"
#include "graph/base/log.h"
#include "host/gguf/gguf.h"
#include "host/tokenizer/pre_tokenizer.h"
#include "host/tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace bluecl {

namespace detail {
std::unique_ptr<Tokenizer> make_spm_tokenizer(Vocab v);  // tokenizer_spm.cpp
std::unique_ptr<Tokenizer> make_bpe_tokenizer(Vocab v);  // tokenizer_bpe.cpp
}  // namespace detail

namespace {

struct SvHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

TokenType type_of(int32_t t) {
  return t >= 0 && t <= int32_t(TokenType::Byte) ? TokenType(t) : TokenType::Undefined;
}

// Defaults that llama.cpp applies before the tokenizer.ggml.* keys override them.
void apply_model_defaults(Vocab& v) {
  const int32_t n = int32_t(v.tokens.size());
  const auto if_present = [n](int32_t id) { return id < n ? id : -1; };
  if (v.model == "llama") {
    v.bos = if_present(1), v.eos = if_present(2), v.unk = if_present(0);
    v.add_bos = true, v.add_space_prefix = true;
  } else if (v.model == "gpt2") {
    v.bos = v.eos = if_present(11);
    // The pre-tokenizer's own defaults (validate refuses an unknown name later).
    if (const detail::PreTokenizer* pre = detail::find_pre_tokenizer(v.pre)) {
      if (pre->add_bos) v.add_bos = true;
      if (pre->no_bos) v.bos = -1;
    }
  }
}

void validate(Vocab& v) {
  if (v.model != "llama" && v.model != "gpt2") {
    fail(Status::Unsupported, "tokenizer model '{}' is not supported (only 'llama' and 'gpt2')", v.model);
  }
  const size_t n = v.tokens.size();
  if (n == 0) fail(Status::BadFile, "tokenizer.ggml.tokens is empty");
  if (n > size_t(INT32_MAX)) fail(Status::BadFile, "tokenizer.ggml.tokens has {} entries", n);
  if (v.scores.size() != n) {
    fail(Status::BadFile, "tokenizer.ggml.scores has {} entries but there are {} tokens", v.scores.size(), n);
  }
  if (v.types.size() != n) {
    fail(Status::BadFile, "tokenizer.ggml.token_type has {} entries but there are {} tokens", v.types.size(),
         n);
  }
  const std::pair<const char*, int32_t> ids[] = {{"bos", v.bos},     {"eos", v.eos}, {"unknown", v.unk},
                                                 {"padding", v.pad}, {"eot", v.eot}, {"eom", v.eom}};
  for (const auto& [name, id] : ids) {
    if (id < -1 || id >= int32_t(n)) {
      fail(Status::BadFile, "tokenizer.ggml.{}_token_id = {} is outside the vocabulary of {} tokens", name,
           id, n);
    }
  }
  if (v.add_bos && v.bos < 0)
    fail(Status::BadFile, "tokenizer.ggml.add_bos_token is true but there is no BOS token");
  if (v.add_eos && v.eos < 0)
    fail(Status::BadFile, "tokenizer.ggml.add_eos_token is true but there is no EOS token");
  if (v.model == "gpt2" && !detail::find_pre_tokenizer(v.pre)) {
    fail(Status::Unsupported, "gpt2 pre-tokenizer '{}' (tokenizer.ggml.pre) is not supported; supported: {}",
         v.pre, detail::supported_pre_tokenizers());
  }
  // llama.cpp names empty tokens so that they stay distinct and printable.
  for (size_t i = 0; i < n; ++i) {
    if (v.tokens[i].empty()) v.tokens[i] = fmt::format("[EMPTY_{}]", i);
  }
}

}  // namespace

Vocab load_vocab(const GgufFile& f) {
  Vocab v;
  v.model = f.require_string("tokenizer.ggml.model");
  v.pre = f.get_string("tokenizer.ggml.pre").value_or("");
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) fail(Status::BadFile, "{}: tokenizer.ggml.tokens is missing", f.path());
  v.tokens = std::move(*tokens);
  const size_t n = v.tokens.size();

  if (f.has("tokenizer.ggml.scores")) {
    // llama.cpp accepts integer scores too.
    if (f.array_type("tokenizer.ggml.scores") == GgufType::I32) {
      const std::vector<int64_t> s = f.get_int_array("tokenizer.ggml.scores").value();
      v.scores.assign(s.begin(), s.end());
    } else {
      auto s = f.get_float_array("tokenizer.ggml.scores");
      if (!s) fail(Status::BadFile, "{}: tokenizer.ggml.scores is not an array", f.path());
      v.scores = std::move(*s);
    }
  } else {
    v.scores.assign(n, 0.0f);
  }
  if (f.has("tokenizer.ggml.token_type")) {
    auto t = f.get_int_array("tokenizer.ggml.token_type");
    if (!t) fail(Status::BadFile, "{}: tokenizer.ggml.token_type is not an array", f.path());
    v.types.reserve(t->size());
    for (int64_t x : *t) v.types.push_back(x >= INT32_MIN && x <= INT32_MAX ? int32_t(x) : 0);
  } else {
    v.types.assign(n, int32_t(TokenType::Normal));
  }
  if (v.model == "gpt2") {
    auto m = f.get_string_array("tokenizer.ggml.merges");
    if (!m) fail(Status::BadFile, "{}: tokenizer.ggml.merges is missing", f.path());
    v.merges = std::move(*m);
  }

  apply_model_defaults(v);
  const std::pair<const char*, int32_t*> keys[] = {
      {"tokenizer.ggml.bos_token_id", &v.bos},     {"tokenizer.ggml.eos_token_id", &v.eos},
      {"tokenizer.ggml.unknown_token_id", &v.unk}, {"tokenizer.ggml.padding_token_id", &v.pad},
      {"tokenizer.ggml.eot_token_id", &v.eot},     {"tokenizer.ggml.eom_token_id", &v.eom}};
  for (const auto& [key, dst] : keys) {
    if (auto id = f.get_int(key)) {
      if (*id < 0 || *id >= int64_t(n)) {
        fail(Status::BadFile, "{}: {} = {} is outside the vocabulary of {} tokens", f.path(), key, *id, n);
      }
      *dst = int32_t(*id);
    }
  }
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(v.add_bos);
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token").value_or(v.add_eos);
  v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(v.add_space_prefix);
  try {
    validate(v);
  } catch (const Error& e) {
    throw Error(e.status(), fmt::format("{}: {}", f.path(), e.what()));
  }
  if (v.model == "gpt2" && v.pre.empty()) {
    log(LogLevel::Warn, "tokenizer",
        "{}: no tokenizer.ggml.pre, using llama.cpp's default pre-tokenizer (text may split differently "
        "from the model's own tokenizer)",
        f.path());
  }
  return v;
}

// Lookup tables shared by both kinds.
struct Tokenizer::Index {
  std::unordered_map<std::string_view, int32_t, SvHash, std::equal_to<>> by_text;  // views into vocab_
  std::vector<int32_t> specials;    // control, user-defined and unknown tokens, longest text first
  std::vector<std::string> pieces;  // token_piece(id, special = true)
  std::unordered_set<int32_t> eog;
};

Tokenizer::Tokenizer(Vocab v) : vocab_(std::move(v)) {}

Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::create(Vocab v) {
  validate(v);
  std::unique_ptr<Tokenizer> t = v.model == "llama" ? detail::make_spm_tokenizer(std::move(v))
                                                    : detail::make_bpe_tokenizer(std::move(v));
  t->build_index();
  return t;
}

void Tokenizer::build_index() {
  auto ix = std::make_unique<Index>();
  const Vocab& v = vocab_;
  const int32_t n = n_vocab();
  ix->by_text.reserve(size_t(n));
  for (int32_t i = 0; i < n; ++i) {
    if (!ix->by_text.emplace(v.tokens[size_t(i)], i).second) {
      fail(Status::BadFile, "duplicate token '{}' in the vocabulary (ids {} and {})", v.tokens[size_t(i)],
           ix->by_text.at(v.tokens[size_t(i)]), i);
    }
    const TokenType t = type_of(v.types[size_t(i)]);
    if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown)
      ix->specials.push_back(i);
  }
  // Longer texts first so that "<|im_end|>" wins over "<|im"; equal lengths in id order.
  std::stable_sort(ix->specials.begin(), ix->specials.end(), [&](int32_t a, int32_t b) {
    return v.tokens[size_t(a)].size() > v.tokens[size_t(b)].size();
  });

  static constexpr std::string_view kEogTexts[] = {"<|eot_id|>",    "<|im_end|>",     "<|end|>",
                                                   "<end_of_turn>", "<|endoftext|>",  "<|eom_id|>",
                                                   "<EOT>",         "<|end_of_text|>"};
  for (int32_t id : {v.eos, v.eot, v.eom}) {
    if (id >= 0) ix->eog.insert(id);
  }
  for (std::string_view text : kEogTexts) {
    if (auto it = ix->by_text.find(text); it != ix->by_text.end()) ix->eog.insert(it->second);
  }
  index_ = std::move(ix);

  // Pieces last: normal_piece() may use find_token().
  std::vector<std::string> pieces(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    const std::string& text = v.tokens[size_t(i)];
    switch (type_of(v.types[size_t(i)])) {
      case TokenType::Normal:
        pieces[size_t(i)] = normal_piece(i);
        break;
      case TokenType::Unknown:
      case TokenType::Control:
      case TokenType::UserDefined:
        pieces[size_t(i)] = text;
        break;
      case TokenType::Byte: {
        // llama.cpp reads the two characters after "<0x" as hex ("<0x0A>" -> 10).
        int value = 0;
        for (size_t k = 3; k < std::min<size_t>(5, text.size()); ++k) {
          const char c = text[k];
          const int d = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
          if (d < 0) break;
          value = value * 16 + d;
        }
        pieces[size_t(i)] = std::string(1, char(value));
        break;
      }
      case TokenType::Undefined:
      case TokenType::Unused:
        break;  // llama.cpp renders these as nothing
    }
  }
  index_->pieces = std::move(pieces);
}

int32_t Tokenizer::find_token(std::string_view text) const {
  auto it = index_->by_text.find(text);
  return it == index_->by_text.end() ? -1 : it->second;
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || id >= n_vocab())
    fail(Status::InvalidArgument, "token id {} is outside the vocabulary of {}", id, n_vocab());
  return type_of(vocab_.types[size_t(id)]);
}

bool Tokenizer::is_eog(int32_t id) const {
  return id >= 0 && index_->eog.count(id) > 0;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  // Split the text around special tokens, longest first, as llama.cpp's tokenizer_st_partition does.
  // A fragment is either raw text (token < 0) or one special token.
  struct Fragment {
    std::string_view text;
    int32_t token;
  };
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({text, -1});
  std::vector<Fragment> next;
  for (int32_t sid : index_->specials) {
    const TokenType t = type_of(vocab_.types[size_t(sid)]);
    if (!parse_special && (t == TokenType::Control || t == TokenType::Unknown)) continue;
    const std::string_view stext = vocab_.tokens[size_t(sid)];
    next.clear();
    bool changed = false;
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      std::string_view rest = f.text;
      for (size_t at; (at = rest.find(stext)) != std::string_view::npos;) {
        if (at > 0) next.push_back({rest.substr(0, at), -1});
        next.push_back({{}, sid});
        rest.remove_prefix(at + stext.size());
        changed = true;
      }
      if (!rest.empty()) next.push_back({rest, -1});
    }
    if (changed) frags.swap(next);
  }

  std::vector<int32_t> out;
  out.reserve(text.size() / 2 + 2);
  if (add_special && vocab_.add_bos) out.push_back(vocab_.bos);
  bool after_special = true;
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      encode_fragment(f.text, after_special, out);
      after_special = false;
    }
  }
  if (add_special && vocab_.add_eos) out.push_back(vocab_.eos);
  return out;
}

std::string Tokenizer::token_piece(int32_t id, bool special) const {
  const TokenType t = token_type(id);  // checks the range
  if (!special && (t == TokenType::Control || t == TokenType::Unknown)) return {};
  return index_->pieces[size_t(id)];
}

namespace {

// llama.cpp's clean_up_tokenization_spaces for gpt2 vocabularies, three in-place passes over `s`.
void clean_up_spaces(std::string& s) {
  // " ?" " !" " ." " ," lose the space.
  size_t n = s.size(), total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    s[total++] = x;
  }
  // " ' " loses both spaces.
  n = total, total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {
    const char x = s[i];
    if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
      --total;
      s[++i] = '\0';
    }
    s[total++] = x;
  }
  // " 's" " 'm" " 're" " 've" lose the space (" 't" " 'd" " 'll" keep it).
  n = total, total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
      const char x1 = s[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < n) {
        const char x2 = s[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    s[total++] = x;
  }
  s.resize(total);
}

}  // namespace

std::string Tokenizer::decode(std::span<const int32_t> ids, bool remove_special, bool unparse_special) const {
  bool strip_space = vocab_.add_space_prefix;
  if (remove_special && vocab_.add_bos && !ids.empty() && ids.front() == vocab_.bos) {
    strip_space = false;
    ids = ids.subspan(1);
  }
  if (remove_special && vocab_.add_eos && !ids.empty() && ids.back() == vocab_.eos)
    ids = ids.first(ids.size() - 1);

  std::string out;
  for (int32_t id : ids) {
    const TokenType t = token_type(id);
    const bool rendered = unparse_special || (t != TokenType::Control && t != TokenType::Unknown);
    if (rendered) {
      const std::string& piece = index_->pieces[size_t(id)];
      out.append(piece, strip_space && !piece.empty() && piece[0] == ' ' ? 1 : 0);
    }
    strip_space = false;  // only the first token, rendered or not, may lose its space
  }
  if (clean_spaces()) clean_up_spaces(out);
  return out;
}

std::string Detokenizer::push(int32_t id) {
  pending_ += tok_.token_piece(id, special_);
  const size_t n = unicode::complete_utf8_prefix(pending_);
  std::string ready = pending_.substr(0, n);
  pending_.erase(0, n);
  return ready;
}

std::string Detokenizer::flush() {
  return std::exchange(pending_, {});
}

}  // namespace bluecl
