// Pre-tokenizer names and split rules; see pre_tokenizer.h.
//
// The text is read once into code points with a few flag bits each (letter, number, punctuation,
// whitespace). A split is a list of piece ends; each rule turns the pieces it is given into finer ones.
// Most rules are "matchers": at a position they return the length of the match there (0 for none), and
// `scan` walks a piece leftmost-first as a regex iterator does, so the text between two matches becomes
// a piece of its own. The GPT-2 and Llama 3 matchers always match (a lone character at worst), as
// llama.cpp's hand-written splitters do.
//
// Character classes follow what llama.cpp's regexes see: \s is White_Space; \p{L}, \p{N}, \p{P} are the
// General_Category classes (ASCII letters are A-Za-z only); literal classes such as [一-龥] never hold a
// non-ASCII whitespace character (llama.cpp hands those to std::regex as U+000B).
#include "host/tokenizer/pre_tokenizer.h"

#include "host/tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace bluecl::detail {
namespace {

// ---------------------------------------------------------------------------------------------------
// Names, as llama.cpp's llama_vocab::load maps tokenizer.ggml.pre values to its pre-tokenizer types,
// with the clean_spaces / ignore_merges / add_bos / BOS settings each type sets.

constexpr bool kClean = true, kRaw = false;  // clean_spaces: on, or spaces kept as they are

constexpr PreTokenizer kPreTokenizers[] = {
    // {name, split, clean_spaces, ignore_merges, add_bos, no_bos}
    {"", PreSplit::Default, kClean, false, false, false},
    {"default", PreSplit::Default, kClean, false, false, false},
    {"gpt-2", PreSplit::Gpt2, kClean, false, false, false},
    {"phi-2", PreSplit::Gpt2, kClean, false, false, false},
    {"jina-es", PreSplit::Gpt2, kClean, false, false, false},
    {"jina-de", PreSplit::Gpt2, kClean, false, false, false},
    {"gigachat", PreSplit::Gpt2, kClean, false, false, false},
    {"jina-v2-es", PreSplit::Gpt2, kClean, false, false, false},
    {"jina-v2-de", PreSplit::Gpt2, kClean, false, false, false},
    {"a.x-4.0", PreSplit::Gpt2, kClean, false, false, false},
    {"mellum", PreSplit::Gpt2, kClean, false, false, false},
    {"modern-bert", PreSplit::Gpt2, kClean, false, false, false},
    {"mpt", PreSplit::Gpt2, kClean, false, false, false},
    {"olmo", PreSplit::Gpt2, kClean, false, false, false},
    {"jais", PreSplit::Gpt2, kClean, false, false, false},
    {"exaone4", PreSplit::Gpt2, kClean, false, false, false},
    {"trillion", PreSplit::Gpt2, kRaw, false, false, false},
    {"granite-docling", PreSplit::Gpt2, kRaw, false, false, false},
    {"llama3", PreSplit::Llama3, kClean, true, true, false},
    {"llama-v3", PreSplit::Llama3, kClean, true, true, false},
    {"llama-bpe", PreSplit::Llama3, kClean, true, true, false},
    {"falcon3", PreSplit::Llama3, kClean, true, true, false},
    {"falcon-h1", PreSplit::Llama3, kClean, true, true, false},
    {"pixtral", PreSplit::Llama3, kClean, true, true, false},
    {"midm-2.0", PreSplit::Llama3, kClean, true, true, false},
    {"lfm2", PreSplit::Llama3, kClean, true, true, false},
    {"jina-v5-nano", PreSplit::Llama3, kClean, true, true, false},
    {"dbrx", PreSplit::Llama3, kClean, false, false, false},
    {"smaug-bpe", PreSplit::Llama3, kClean, false, false, false},
    {"glm4", PreSplit::Llama3, kClean, false, false, true},
    {"chatglm-bpe", PreSplit::Llama3, kClean, false, false, true},
    {"qwen2", PreSplit::Qwen2, kRaw, false, false, false},
    {"deepseek-r1-qwen", PreSplit::Qwen2, kRaw, false, false, false},
    {"kormo", PreSplit::Qwen2, kRaw, false, false, false},
    {"f2llmv2", PreSplit::Qwen2, kRaw, false, false, false},
    {"hunyuan", PreSplit::Qwen2, kRaw, false, false, false},
    {"solar-open", PreSplit::Qwen2, kRaw, false, false, false},
    {"grok-2", PreSplit::Qwen2, kRaw, false, false, false},
    {"megrez", PreSplit::Qwen2, kClean, false, false, false},
    {"stablelm2", PreSplit::Qwen2, kClean, false, false, false},
    {"deepseek-llm", PreSplit::DeepseekLlm, kRaw, false, false, false},
    {"deepseek-coder", PreSplit::DeepseekCoder, kRaw, false, false, false},
    {"deepseek-v3", PreSplit::DeepseekV3, kRaw, false, false, false},
    {"hunyuan-dense", PreSplit::DeepseekV3, kRaw, false, false, false},
    {"joyai-llm", PreSplit::DeepseekV3, kRaw, false, false, false},
    {"hy_v4", PreSplit::DeepseekV3, kRaw, false, false, false},
    {"falcon", PreSplit::Falcon, kClean, false, false, false},
    {"starcoder", PreSplit::Starcoder, kClean, false, false, false},
    {"refact", PreSplit::Starcoder, kClean, false, false, false},
    {"codeshell", PreSplit::Starcoder, kClean, false, false, false},
    {"exaone", PreSplit::Starcoder, kClean, false, false, false},
    {"minerva-7b", PreSplit::Starcoder, kClean, false, false, false},
    {"mellum2", PreSplit::Starcoder, kClean, false, false, false},
    {"command-r", PreSplit::Starcoder, kRaw, false, false, false},
    {"smollm", PreSplit::Starcoder, kRaw, false, false, false},
    {"tekken", PreSplit::Tekken, kRaw, true, true, false},
    {"gpt-4o", PreSplit::Gpt4o, kRaw, false, false, false},
    {"llama4", PreSplit::Gpt4o, kRaw, false, false, false},
    {"kanana2", PreSplit::Gpt4o, kRaw, false, false, false},
    {"talkie", PreSplit::Gpt4o, kRaw, false, false, false},
    {"minimax-m2", PreSplit::Gpt4o, kRaw, false, false, false},
    {"bloom", PreSplit::Bloom, kClean, false, false, false},
    {"gpt3-finnish", PreSplit::Bloom, kClean, false, false, false},
    {"poro-chat", PreSplit::Bloom, kRaw, false, false, false},
    {"viking", PreSplit::Viking, kRaw, false, false, false},
};

// ---------------------------------------------------------------------------------------------------
// The text and its character classes.

// kS is \p{S} as llama.cpp's collapsed regexes see it: its ASCII symbols are $+<=>^`| (not ~).
enum : uint8_t { kL = 1, kN = 2, kP = 4, kWs = 8, kM = 16, kS = 32 };

struct Text {
  std::vector<uint32_t> cpt;
  std::vector<uint8_t> flag;
};

uint8_t flags_of(uint32_t c) {
  if (unicode::is_whitespace(c)) return kWs;
  switch (unicode::unicode_class(c)) {
    case unicode::UnicodeClass::Letter:
      return kL;
    case unicode::UnicodeClass::Number:
      return kN;
    case unicode::UnicodeClass::Punctuation:
      return kP;
    case unicode::UnicodeClass::Mark:
      return kM;
    case unicode::UnicodeClass::Symbol:
      return c == '~' ? 0 : kS;
    default:
      return 0;
  }
}

Text read_text(std::string_view s) {
  static const std::array<uint8_t, 128> ascii = [] {
    std::array<uint8_t, 128> a{};
    for (uint32_t c = 0; c < 128; ++c) a[c] = flags_of(c);
    return a;
  }();
  Text t;
  t.cpt = unicode::to_codepoints(s);
  t.flag.resize(t.cpt.size());
  for (size_t i = 0; i < t.cpt.size(); ++i) {
    const uint32_t c = t.cpt[i];
    t.flag[i] = c < 128 ? ascii[c] : flags_of(c);
  }
  return t;
}

// The code point as a literal class of llama.cpp's std::wregex rules sees it: non-ASCII whitespace
// reads as U+000B.
uint32_t wide(const Text& t, size_t i) {
  const uint32_t c = t.cpt[i];
  return c >= 0x80 && (t.flag[i] & kWs) ? 0x0B : c;
}

bool is_rn(uint32_t c) {
  return c == '\r' || c == '\n';
}

// The end of the run of code points from `p` that have one of the flags `f` (or, with `negate`, none).
size_t run(const Text& t, size_t p, size_t e, uint8_t f, bool negate = false) {
  while (p < e && bool(t.flag[p] & f) != negate) ++p;
  return p;
}

template <typename Pred>
size_t run_if(const Text& t, size_t p, size_t e, Pred pred) {
  while (p < e && pred(t, p)) ++p;
  return p;
}

// ---------------------------------------------------------------------------------------------------
// Matchers: the length of the match at p within the piece ending at e (p < e), 0 when none.

using Matcher = size_t (*)(const Text&, size_t, size_t);

// 's|'t|'re|'ve|'m|'ll|'d, in ASCII case or not
size_t contraction(const Text& t, size_t p, size_t e, bool any_case) {
  if (t.cpt[p] != '\'' || p + 1 >= e) return 0;
  const auto low = [any_case](uint32_t c) { return any_case && c >= 'A' && c <= 'Z' ? c + 32 : c; };
  const uint32_t c1 = low(t.cpt[p + 1]);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (p + 2 >= e) return 0;
  const uint32_t c2 = low(t.cpt[p + 2]);
  return (c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l') ? 3 : 0;
}

// A whitespace run: less its last character when something follows it in the piece (\s+(?!\S) | \s+).
size_t space_run(const Text& t, size_t p, size_t e) {
  const size_t k = run(t, p, e, kWs) - p;
  if (k > 1 && p + k < e) return k - 1;
  return k > 0 ? k : 1;  // 1: no rule matched, the character stands alone
}

size_t match_gpt2(const Text& t, size_t p, size_t e) {
  if (const size_t n = contraction(t, p, e, false)) return n;
  const size_t q = t.cpt[p] == ' ' ? p + 1 : p;  //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
  if (q < e) {
    const uint8_t f = t.flag[q];
    if (f & kL) return run(t, q, e, kL) - p;
    if (f & kN) return run(t, q, e, kN) - p;
    if (!(f & (kWs | kL | kN))) return run(t, q, e, kWs | kL | kN, true) - p;
  }
  return space_run(t, p, e);
}

template <size_t kMaxDigits>
size_t match_llama3(const Text& t, size_t p, size_t e) {
  if (const size_t n = contraction(t, p, e, true)) return n;
  const uint32_t c = t.cpt[p];
  const uint8_t f = t.flag[p];
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!is_rn(c) && !(f & kN) && ((f & kL) || (p + 1 < e && (t.flag[p + 1] & kL))))
    return run(t, p + 1, e, kL) - p;
  if (f & kN) return std::min(run(t, p, e, kN) - p, kMaxDigits);  // \p{N}{1,3} or \p{N}
  //  ?[^\s\p{L}\p{N}]+[\r\n]*  (a space at the end of the piece counts as a match of it)
  const size_t q = c == ' ' ? p + 1 : p;
  if (q >= e || !(t.flag[q] & (kWs | kL | kN))) {
    size_t r = run(t, q, e, kWs | kL | kN, true);
    while (r < e && is_rn(t.cpt[r])) ++r;
    return r - p;
  }
  // \s*[\r\n]+ : up to the last line break of the whitespace run
  size_t last_rn = 0;
  for (size_t k = p; k < e && (t.flag[k] & kWs); ++k) {
    if (is_rn(t.cpt[k])) last_rn = k + 1;
  }
  if (last_rn > 0) return last_rn - p;
  return space_run(t, p, e);
}

bool is_upper_or_other_letter(const Text& t, size_t i) {  // a letter but a-z
  return (t.flag[i] & kL) && !(t.cpt[i] >= 'a' && t.cpt[i] <= 'z');
}
bool is_lower_or_other_letter(const Text& t, size_t i) {  // a letter but A-Z
  return (t.flag[i] & kL) && !(t.cpt[i] >= 'A' && t.cpt[i] <= 'Z');
}

// Tekken's and GPT-4o's regex, with U a letter but a-z and W a letter but A-Z (a non-ASCII letter is
// both, as llama.cpp's ((?=[\p{L}])([^a-z])) reads it):
//   [^\r\n\p{L}\p{N}]?U*W+C? | [^\r\n\p{L}\p{N}]?U+W*C? | \p{N}{1,D} |  ?[^\s\p{L}\p{N}]+[\r\n/]* |
//   \s*[\r\n]+ | \s+(?!\S) | \s+
// where C is an optional contraction (GPT-4o only). U*W+ backtracks as std::regex does: the W run starts
// at the last W that the U run reaches or ends before.
template <size_t kMaxDigits, bool kContraction>
size_t match_cased(const Text& t, size_t p, size_t e) {
  const uint32_t c = t.cpt[p];
  const uint8_t f = t.flag[p];
  const auto with_contraction = [&](size_t end) {
    return kContraction && end < e ? end + contraction(t, end, e, true) : end;
  };
  // The optional first character; without it the rule can only start at a letter.
  const size_t q = !is_rn(c) && !(f & (kL | kN)) ? p + 1 : p;
  if (q < e) {
    const size_t u = run_if(t, q, e, is_upper_or_other_letter);
    for (size_t k = std::min(u, e - 1) + 1; k-- > q;) {  // U*W+
      if (is_lower_or_other_letter(t, k))
        return with_contraction(run_if(t, k, e, is_lower_or_other_letter)) - p;
    }
    if (u > q) return with_contraction(run_if(t, u, e, is_lower_or_other_letter)) - p;  // U+W*
  }
  if (f & kN) return std::min(run(t, p, e, kN) - p, kMaxDigits);
  const size_t r = c == ' ' ? p + 1 : p;  //  ?[^\s\p{L}\p{N}]+[\r\n/]*
  if (r < e && !(t.flag[r] & (kWs | kL | kN))) {
    size_t end = run(t, r, e, kWs | kL | kN, true);
    while (end < e && (is_rn(t.cpt[end]) || t.cpt[end] == '/')) ++end;
    return end - p;
  }
  size_t last_rn = 0;  // \s*[\r\n]+
  for (size_t k = p; k < e && (t.flag[k] & kWs); ++k) {
    if (is_rn(t.cpt[k])) last_rn = k + 1;
  }
  if (last_rn > 0) return last_rn - p;
  return space_run(t, p, e);
}

// DeepSeek V3's main regex:
//   [!-/:-@[-`{-~][A-Za-z]+ | [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ |  ?[\p{P}\p{S}]+[\r\n]* | \s*[\r\n]+ |
//   \s+(?!\S) | \s+
// Text that none of these matches at a position (digits, '~' before a non-letter, control characters)
// is left between matches.
size_t match_deepseek_v3(const Text& t, size_t p, size_t e) {
  const uint32_t c = t.cpt[p];
  const uint8_t f = t.flag[p];
  const auto ascii_letter = [](uint32_t x) { return (x | 0x20) >= 'a' && (x | 0x20) <= 'z'; };
  const bool ascii_punct = c > 0x20 && c < 0x7F && !ascii_letter(c) && !(c >= '0' && c <= '9');
  if (ascii_punct && p + 1 < e && ascii_letter(t.cpt[p + 1])) {
    size_t r = p + 1;
    while (r < e && ascii_letter(t.cpt[r])) ++r;
    return r - p;
  }
  if (!is_rn(c) && !(f & (kL | kP | kS)) && p + 1 < e && (t.flag[p + 1] & (kL | kM)))
    return run(t, p + 1, e, kL | kM) - p;
  if (f & (kL | kM)) return run(t, p, e, kL | kM) - p;
  const size_t q = c == ' ' ? p + 1 : p;
  if (q < e && (t.flag[q] & (kP | kS))) {
    size_t r = run(t, q, e, kP | kS);
    while (r < e && is_rn(t.cpt[r])) ++r;
    return r - p;
  }
  if (!(f & kWs)) return 0;
  size_t last_rn = 0;
  for (size_t k = p; k < e && (t.flag[k] & kWs); ++k) {
    if (is_rn(t.cpt[k])) last_rn = k + 1;
  }
  if (last_rn > 0) return last_rn - p;
  return space_run(t, p, e);
}

// [\r\n]
size_t match_newline(const Text& t, size_t p, size_t) {
  return is_rn(t.cpt[p]) ? 1 : 0;
}

// \s?X+ (optional whitespace, then a run of X)
template <typename Pred>
size_t space_then_run(const Text& t, size_t p, size_t e, Pred pred) {
  const size_t q = (t.flag[p] & kWs) && p + 1 < e && pred(t, p + 1) ? p + 1 : p;
  const size_t r = run_if(t, q, e, pred);
  return r > q ? r - p : 0;
}

template <typename Pred>
size_t runs(const Text& t, size_t p, size_t e, Pred pred) {
  return run_if(t, p, e, pred) - p;
}

struct Range {
  uint32_t first, last;
};

template <size_t N>
bool in(const Range (&ranges)[N], uint32_t c) {
  for (const Range& r : ranges) {
    if (c >= r.first && c <= r.last) return true;
  }
  return false;
}

// DeepSeek LLM's cased letters (its tokenizer.json class, A-Za-z through Adlam).
constexpr Range kDeepseekCased[] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},       {0xD8, 0xF6},
    {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},     {0x295, 0x2AF},     {0x370, 0x373},
    {0x376, 0x377},     {0x37B, 0x37D},     {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},
    {0x38C, 0x38C},     {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},   {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},   {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},   {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},
    {0x1F5B, 0x1F5B},   {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},   {0x1FD6, 0x1FDB},
    {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},   {0x2102, 0x2102},   {0x2107, 0x2107},
    {0x210A, 0x2113},   {0x2115, 0x2115},   {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},
    {0x2128, 0x2128},   {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},   {0x2C7E, 0x2CE4},
    {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},   {0xA680, 0xA69B},   {0xA722, 0xA76F},
    {0xA771, 0xA787},   {0xA78B, 0xA78E},   {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},
    {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};
// DeepSeek LLM's punctuation: ASCII but digits and space, full-width forms, quotes, CJK marks.
constexpr Range kDeepseekPunct[] = {{0x21, 0x2F},     {0x3A, 0x7E},     {0xFF01, 0xFF0F},
                                    {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002}};
// [一-龥぀-ゟ゠-ヿ] of DeepSeek V3: CJK ideographs, hiragana, katakana
constexpr Range kDeepseekV3Cjk[] = {{0x4E00, 0x9FA5}, {0x3040, 0x309F}, {0x30A0, 0x30FF}};
// [一-龥ࠀ-一가-퟿] of both DeepSeek LLM and Coder
constexpr Range kDeepseekCjk[] = {{0x800, 0x9FA5}, {0xAC00, 0xD7FF}};
// What Bloom's  ?[^(\s|.,!?…。，、।۔،)]+ excludes besides whitespace
constexpr Range kBloomStops[] = {{'(', ')'},       {'|', '|'},       {'.', '.'},       {',', ','},
                                 {'!', '!'},       {'?', '?'},       {0x2026, 0x2026}, {0x3002, 0x3002},
                                 {0xFF0C, 0xFF0C}, {0x3001, 0x3001}, {0x0964, 0x0964}, {0x06D4, 0x06D4},
                                 {0x060C, 0x060C}};

bool is_letter(const Text& t, size_t i) {
  return t.flag[i] & kL;
}
bool is_number(const Text& t, size_t i) {
  return t.flag[i] & kN;
}
bool is_punct(const Text& t, size_t i) {
  return t.flag[i] & kP;
}
bool is_cased(const Text& t, size_t i) {
  return in(kDeepseekCased, wide(t, i));
}
bool is_deepseek_punct(const Text& t, size_t i) {
  return in(kDeepseekPunct, wide(t, i));
}
bool is_cjk(const Text& t, size_t i) {
  return in(kDeepseekCjk, wide(t, i));
}
bool is_v3_cjk(const Text& t, size_t i) {
  return in(kDeepseekV3Cjk, wide(t, i));
}
// [\p{P}$+<=>^~|`] and, without the backtick, the default rule's class
template <bool kBacktick>
bool is_punct_or_ascii_symbol(const Text& t, size_t i) {
  const uint32_t c = t.cpt[i];
  return (t.flag[i] & kP) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' ||
         c == '~' || c == '|' || (kBacktick && c == '`');
}

size_t match_one_number(const Text& t, size_t p, size_t) {
  return is_number(t, p) ? 1 : 0;
}
size_t match_numbers(const Text& t, size_t p, size_t e) {
  return runs(t, p, e, is_number);
}
size_t match_three_digits(const Text& t, size_t p, size_t e) {
  const auto digit = [&](size_t i) { return t.cpt[i] >= '0' && t.cpt[i] <= '9'; };
  return p + 2 < e && digit(p) && digit(p + 1) && digit(p + 2) ? 3 : 0;
}
template <bool kBacktick>
size_t match_punct_runs(const Text& t, size_t p, size_t e) {
  return runs(t, p, e, is_punct_or_ascii_symbol<kBacktick>);
}
size_t match_space_letters(const Text& t, size_t p, size_t e) {
  return space_then_run(t, p, e, is_letter);
}
size_t match_space_punct(const Text& t, size_t p, size_t e) {
  return space_then_run(t, p, e, is_punct);
}
size_t match_space_cased(const Text& t, size_t p, size_t e) {
  return space_then_run(t, p, e, is_cased);
}
size_t match_space_deepseek_punct(const Text& t, size_t p, size_t e) {
  return space_then_run(t, p, e, is_deepseek_punct);
}
size_t match_cjk(const Text& t, size_t p, size_t e) {
  return runs(t, p, e, is_cjk);
}
size_t match_v3_cjk(const Text& t, size_t p, size_t e) {
  return runs(t, p, e, is_v3_cjk);
}
size_t match_up_to_three_numbers(const Text& t, size_t p, size_t e) {
  return std::min<size_t>(runs(t, p, e, is_number), 3);
}
size_t match_bloom(const Text& t, size_t p, size_t e) {
  const auto word = [](const Text& x, size_t i) {
    return !(x.flag[i] & kWs) && !in(kBloomStops, wide(x, i));
  };
  const size_t q = t.cpt[p] == ' ' && p + 1 < e && word(t, p + 1) ? p + 1 : p;
  const size_t r = run_if(t, q, e, word);
  return r > q ? r - p : 0;
}

// ---------------------------------------------------------------------------------------------------
// Rules over pieces.

using Ends = std::vector<uint32_t>;  // end of each piece; the first starts at 0
using Rule = void (*)(const Text&, size_t, size_t, Ends&);

// The matches of M in [b, e) and the text between them, as pieces.
template <Matcher M>
void scan(const Text& t, size_t b, size_t e, Ends& out) {
  size_t gap = b;
  for (size_t p = b; p < e;) {
    const size_t n = M(t, p, e);
    if (n == 0) {
      ++p;
      continue;
    }
    if (p > gap) out.push_back(uint32_t(p));
    p += n;
    out.push_back(uint32_t(p));
    gap = p;
  }
  if (gap < e) out.push_back(uint32_t(e));
}

// \s+$ : the leftmost match is the whitespace at the end of the piece, whole.
void trailing_space(const Text& t, size_t b, size_t e, Ends& out) {
  size_t s = e;
  while (s > b && (t.flag[s - 1] & kWs)) --s;
  if (s > b) out.push_back(uint32_t(s));
  out.push_back(uint32_t(e));
}

struct Rules {
  const Rule* first;
  size_t count;
};

template <size_t N>
constexpr Rules rules_of(const Rule (&r)[N]) {
  return {r, N};
}

constexpr Rule kDefaultRules[] = {scan<match_punct_runs<false>>, scan<match_gpt2>, scan<match_numbers>,
                                  scan<match_three_digits>};
constexpr Rule kGpt2Rules[] = {scan<match_gpt2>};
constexpr Rule kLlama3Rules[] = {scan<match_llama3<3>>};
constexpr Rule kQwen2Rules[] = {scan<match_llama3<1>>};
constexpr Rule kDeepseekLlmRules[] = {
    scan<match_newline>, scan<match_space_cased>, scan<match_space_deepseek_punct>,
    trailing_space,      scan<match_cjk>,         scan<match_numbers>};
constexpr Rule kDeepseekCoderRules[] = {scan<match_newline>, scan<match_space_letters>,
                                        scan<match_space_punct>, scan<match_cjk>, scan<match_one_number>};
constexpr Rule kDeepseekV3Rules[] = {scan<match_up_to_three_numbers>, scan<match_v3_cjk>,
                                     scan<match_deepseek_v3>};
constexpr Rule kFalconRules[] = {scan<match_punct_runs<true>>, scan<match_gpt2>, scan<match_three_digits>};
constexpr Rule kStarcoderRules[] = {scan<match_one_number>, scan<match_gpt2>};
constexpr Rule kTekkenRules[] = {scan<match_cased<1, false>>};
constexpr Rule kGpt4oRules[] = {scan<match_cased<3, true>>};
constexpr Rule kBloomRules[] = {scan<match_bloom>};
constexpr Rule kVikingRules[] = {scan<match_bloom>, scan<match_one_number>};

Rules rules_for(PreSplit s) {
  switch (s) {
    case PreSplit::Default:
      return rules_of(kDefaultRules);
    case PreSplit::Gpt2:
      return rules_of(kGpt2Rules);
    case PreSplit::Llama3:
      return rules_of(kLlama3Rules);
    case PreSplit::Qwen2:
      return rules_of(kQwen2Rules);
    case PreSplit::DeepseekLlm:
      return rules_of(kDeepseekLlmRules);
    case PreSplit::DeepseekCoder:
      return rules_of(kDeepseekCoderRules);
    case PreSplit::DeepseekV3:
      return rules_of(kDeepseekV3Rules);
    case PreSplit::Falcon:
      return rules_of(kFalconRules);
    case PreSplit::Starcoder:
      return rules_of(kStarcoderRules);
    case PreSplit::Tekken:
      return rules_of(kTekkenRules);
    case PreSplit::Gpt4o:
      return rules_of(kGpt4oRules);
    case PreSplit::Bloom:
      return rules_of(kBloomRules);
    case PreSplit::Viking:
      return rules_of(kVikingRules);
  }
  return rules_of(kGpt2Rules);  // unreachable: every value is handled above
}

}  // namespace

const PreTokenizer* find_pre_tokenizer(std::string_view name) {
  for (const PreTokenizer& p : kPreTokenizers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string supported_pre_tokenizers() {
  std::string s;
  for (const PreTokenizer& p : kPreTokenizers) {
    if (p.name.empty()) continue;
    if (!s.empty()) s += ", ";
    s += p.name;
  }
  return s;
}

std::vector<std::string> pre_tokenize(PreSplit split, std::string_view text) {
  const Text t = read_text(text);
  const size_t n = t.cpt.size();
  if (n == 0) return {};
  Ends ends{uint32_t(n)}, next;
  const Rules rules = rules_for(split);
  for (size_t r = 0; r < rules.count; ++r) {
    next.clear();
    size_t b = 0;
    for (const uint32_t e : ends) {
      rules.first[r](t, b, e, next);
      b = e;
    }
    ends.swap(next);
  }
  std::vector<std::string> words;
  words.reserve(ends.size());
  size_t b = 0;
  for (const uint32_t e : ends) {
    std::string w;
    for (size_t i = b; i < e; ++i) unicode::append_utf8(w, t.cpt[i]);
    words.push_back(std::move(w));
    b = e;
  }
  return words;
}

}  // namespace bluecl::detail
