// Tokenizer tests against llama.cpp's own test vectors (tests/data/vocab: inputs and the token ids that
// llama.cpp produced, without BOS) for SentencePiece, GPT-2 and the other byte-level BPE pre-tokenizer
// families (Llama 3, Qwen2, DeepSeek LLM, StarCoder, Falcon), plus the split rules of every family, round
// trips over every token and every code point, streaming detokenisation, special-token parsing,
// vocabulary validation and the golden prompt of the tiny models.
#include "host/tokenizer/tokenizer.h"

#include "graph/base/error.h"
#include "host/gguf/gguf.h"
#include "host/tokenizer/pre_tokenizer.h"
#include "host/tokenizer/unicode.h"
#include "tests/testing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <sstream>

namespace bluecl {
namespace {

using testing::data_path;

const Tokenizer& vocab_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& t = cache[name];
  if (!t) t = Tokenizer::create(load_vocab(*GgufFile::open(data_path("vocab/" + name))));
  return *t;
}
const Tokenizer& spm() {
  return vocab_tokenizer("ggml-vocab-llama-spm.gguf");
}
const Tokenizer& gpt2() {
  return vocab_tokenizer("ggml-vocab-gpt-2.gguf");
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// The .inp file holds inputs each followed by "\n__ggml_vocab_test__\n"; the .out file one line of ids
// per input (llama.cpp's test-tokenizer-0 reads them the same way).
std::vector<Case> read_cases(const std::string& name) {
  const std::string inp = testing::read_text(data_path("vocab/" + name + ".inp"));
  const std::string out = testing::read_text(data_path("vocab/" + name + ".out"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t pos = 0; pos < inp.size();) {
    size_t next = inp.find(sep, pos);
    if (next == std::string::npos) next = inp.size();
    cases.push_back({inp.substr(pos, next - pos), {}});
    pos = next + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  for (; std::getline(lines, line); ++i) {
    if (i >= cases.size()) break;
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) cases[i].ids.push_back(id);
  }
  EXPECT_EQ(i, cases.size()) << name << ": inputs and outputs differ in count";
  return cases;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += fmt::format("{} ", id);
  return s;
}

void expect_cases(const Tokenizer& tok, const std::string& name) {
  const std::vector<Case> cases = read_cases(name);
  ASSERT_GT(cases.size(), 40u);
  int checked = 0;
  for (const Case& c : cases) {
    const std::vector<int32_t> got = tok.encode(c.text, /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(got, c.ids) << name << " input '" << c.text << "'\n  got      " << show(got) << "\n  expected "
                          << show(c.ids);
    ++checked;
  }
  EXPECT_EQ(checked, int(cases.size()));
}

TEST(Tokenizer, LlamaSpmMatchesLlamaCpp) {
  expect_cases(spm(), "ggml-vocab-llama-spm.gguf");
}
TEST(Tokenizer, Gpt2MatchesLlamaCpp) {
  expect_cases(gpt2(), "ggml-vocab-gpt-2.gguf");
}

// gpt2 vocabularies clean up spaces when detokenising (" ," -> ","); a text with one of those patterns
// cannot come back unchanged, by llama.cpp's design.
bool touched_by_cleanup(std::string_view s) {
  for (std::string_view p : {" ?", " !", " .", " ,", " ' ", " 's", " 'm", " 're", " 've"}) {
    if (s.find(p) != std::string_view::npos) return true;
  }
  return false;
}

// The other byte-level BPE families' vocabularies, trimmed by tools/trim_vocab.py to what their test
// inputs can consult (every token and merge whose text occurs in them, and every special token), so
// those inputs tokenise as with the full file. bluecl.test.token_ids maps a trimmed id to the full one,
// in which the .out files are written.
struct TrimmedVocab {
  std::unique_ptr<Tokenizer> tok;
  std::vector<int64_t> full_ids;
};

const TrimmedVocab& trimmed(const std::string& family) {
  static std::map<std::string, TrimmedVocab> cache;
  TrimmedVocab& t = cache[family];
  if (!t.tok) {
    const auto f = GgufFile::open(data_path("vocab/ggml-vocab-" + family + ".trim.gguf"));
    t.tok = Tokenizer::create(load_vocab(*f));
    t.full_ids = f->get_int_array("bluecl.test.token_ids").value();
  }
  return t;
}

struct BpeFamily {
  const char* vocab;  // ggml-vocab-<vocab>.*
  const char* pre;    // its tokenizer.ggml.pre
  bool clean_spaces;
};

constexpr BpeFamily kBpeFamilies[] = {{"llama-bpe", "llama-bpe", true},
                                      {"qwen2", "qwen2", false},
                                      {"deepseek-llm", "deepseek-llm", false},
                                      {"starcoder", "starcoder", true},
                                      {"falcon", "falcon", true}};

TEST(Tokenizer, BpeFamiliesMatchLlamaCpp) {
  for (const BpeFamily& fam : kBpeFamilies) {
    const TrimmedVocab& t = trimmed(fam.vocab);
    EXPECT_EQ(t.tok->vocab().pre, fam.pre);
    const std::string name = std::string("ggml-vocab-") + fam.vocab + ".gguf";
    const std::vector<Case> cases = read_cases(name);
    ASSERT_GT(cases.size(), 40u);
    int passed = 0;
    for (const Case& c : cases) {
      std::vector<int32_t> got;
      for (int32_t id : t.tok->encode(c.text, /*add_special=*/false, /*parse_special=*/false))
        got.push_back(int32_t(t.full_ids.at(size_t(id))));
      EXPECT_EQ(got, c.ids) << name << " input '" << c.text << "'\n  got      " << show(got)
                            << "\n  expected " << show(c.ids);
      passed += got == c.ids;
    }
    std::printf("%s: %d of %zu lines as llama.cpp\n", fam.vocab, passed, cases.size());
  }
}

// Decoding gives the input back, but where a family that cleans up spaces changes " ," and the like.
TEST(Tokenizer, BpeFamiliesDecodeInvertsEncode) {
  for (const BpeFamily& fam : kBpeFamilies) {
    const Tokenizer& tok = *trimmed(fam.vocab).tok;
    int checked = 0;
    for (const Case& c : read_cases(std::string("ggml-vocab-") + fam.vocab + ".gguf")) {
      if (fam.clean_spaces && touched_by_cleanup(c.text)) continue;
      EXPECT_EQ(tok.decode(tok.encode(c.text, false)), c.text) << fam.vocab;
      ++checked;
    }
    EXPECT_GT(checked, 35) << fam.vocab;
  }
  // Qwen2 keeps " ," as it is; GPT-2 style vocabularies drop the space.
  const Tokenizer& qwen = *trimmed("qwen2").tok;
  EXPECT_EQ(qwen.decode(qwen.encode("Hello , world", false)), "Hello , world");
  const Tokenizer& llama3 = *trimmed("llama-bpe").tok;
  EXPECT_EQ(llama3.decode(llama3.encode("Hello , world", false)), "Hello, world");
}

// Llama 3 vocabularies add BOS by default (the file's add_bos_token key can still say otherwise) and take
// a word that is a token as a whole without merging it.
TEST(Tokenizer, LlamaBpeDefaults) {
  const Tokenizer& t = *trimmed("llama-bpe").tok;
  EXPECT_TRUE(t.vocab().add_bos);
  EXPECT_EQ(t.vocab().tokens[size_t(t.bos())], "<|begin_of_text|>");
  const std::vector<int32_t> ids = t.encode("Hello world", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], t.bos());
  EXPECT_TRUE(t.is_eog(t.encode("<|eot_id|>", false, true).at(0)));
}

// Each family's split rules on a few inputs, as llama.cpp's unicode_regex_split splits them.
TEST(Tokenizer, PreTokenizerFamilies) {
  using detail::PreSplit;
  struct SplitCase {
    PreSplit split;
    const char* text;
    std::vector<std::string> words;
  };
  const SplitCase cases[] = {
      {PreSplit::Bloom, "I'M here's 1234567 x", {"I'M", " here's", " 1234567", " x"}},
      {PreSplit::Bloom, "Hi  there\n\n  ok ", {"Hi", " ", " there", "\n\n ", " ok", " "}},
      {PreSplit::Bloom, "(hello), 世界！ 안녕 ١٢٣", {"(", "hello", "),", " 世界！", " 안녕", " ١٢٣"}},
      {PreSplit::Bloom, "a…b。c, d?  ", {"a", "…", "b", "。", "c", ",", " d", "?  "}},
      {PreSplit::Bloom, "$x+=1;~y|`z`", {"$x+=1;~y", "|", "`z`"}},
      {PreSplit::DeepseekCoder,
       "I'M here's 1234567 x",
       {"I", "'", "M", " here", "'", "s", " ", "1", "2", "3", "4", "5", "6", "7", " x"}},
      {PreSplit::DeepseekCoder, "Hi  there\n\n  ok ", {"Hi", " ", " there", "\n", "\n", " ", " ok", " "}},
      {PreSplit::DeepseekCoder,
       "(hello), 世界！ 안녕 ١٢٣",
       {"(", "hello", "),", " ", "世界", "！", " ", "안녕", " ", "١", "٢", "٣"}},
      {PreSplit::DeepseekCoder, "a…b。c, d?  ", {"a", "…", "b", "。", "c", ",", " d", "?", "  "}},
      {PreSplit::DeepseekCoder, "$x+=1;~y|`z`", {"$", "x", "+=", "1", ";", "~", "y", "|`", "z", "`"}},
      {PreSplit::DeepseekLlm,
       "I'M here's 1234567 x",
       {"I", "'", "M", " here", "'", "s", " ", "1234567", " x"}},
      {PreSplit::DeepseekLlm, "Hi  there\n\n  ok ", {"Hi", " ", " there", "\n", "\n", " ", " ok", " "}},
      {PreSplit::DeepseekLlm,
       "(hello), 世界！ 안녕 ١٢٣",
       {"(", "hello", "),", " ", "世界", "！", " ", "안녕", " ", "١٢٣"}},
      {PreSplit::DeepseekLlm, "a…b。c, d?  ", {"a", "…", "b", "。", "c", ",", " d", "?", "  "}},
      {PreSplit::DeepseekLlm, "$x+=1;~y|`z`", {"$", "x", "+=", "1", ";~", "y", "|`", "z", "`"}},
      {PreSplit::Default,
       "I'M here's 1234567 x",
       {"I", "'", "M", " here", "'", "s", " ", "123", "456", "7", " x"}},
      {PreSplit::Default, "Hi  there\n\n  ok ", {"Hi", " ", " there", "\n\n ", " ok", " "}},
      {PreSplit::Default,
       "(hello), 世界！ 안녕 ١٢٣",
       {"(", "hello", "),", " 世界", "！", " 안녕", " ", "١٢٣"}},
      {PreSplit::Default, "a…b。c, d?  ", {"a", "…", "b", "。", "c", ",", " d", "?", "  "}},
      {PreSplit::Default, "$x+=1;~y|`z`", {"$", "x", "+=", "1", ";~", "y", "|", "`", "z", "`"}},
      {PreSplit::Falcon,
       "I'M here's 1234567 x",
       {"I", "'", "M", " here", "'", "s", " ", "123", "456", "7", " x"}},
      {PreSplit::Falcon, "Hi  there\n\n  ok ", {"Hi", " ", " there", "\n\n ", " ok", " "}},
      {PreSplit::Falcon, "(hello), 世界！ 안녕 ١٢٣", {"(", "hello", "),", " 世界", "！", " 안녕", " ١٢٣"}},
      {PreSplit::Falcon, "a…b。c, d?  ", {"a", "…", "b", "。", "c", ",", " d", "?", "  "}},
      {PreSplit::Falcon, "$x+=1;~y|`z`", {"$", "x", "+=", "1", ";~", "y", "|`", "z", "`"}},
      {PreSplit::Llama3, "I'M here's 1234567 x", {"I", "'M", " here", "'s", " ", "123", "456", "7", " x"}},
      {PreSplit::Llama3, "Hi  there\n\n  ok ", {"Hi", " ", " there", "\n\n", " ", " ok", " "}},
      {PreSplit::Llama3, "(hello), 世界！ 안녕 ١٢٣", {"(hello", "),", " 世界", "！", " 안녕", " ", "١٢٣"}},
      {PreSplit::Llama3, "a…b。c, d?  ", {"a", "…b", "。c", ",", " d", "?", "  "}},
      {PreSplit::Llama3, "$x+=1;~y|`z`", {"$x", "+=", "1", ";~", "y", "|`", "z", "`"}},
      {PreSplit::Qwen2,
       "I'M here's 1234567 x",
       {"I", "'M", " here", "'s", " ", "1", "2", "3", "4", "5", "6", "7", " x"}},
      {PreSplit::Qwen2, "Hi  there\n\n  ok ", {"Hi", " ", " there", "\n\n", " ", " ok", " "}},
      {PreSplit::Qwen2,
       "(hello), 世界！ 안녕 ١٢٣",
       {"(hello", "),", " 世界", "！", " 안녕", " ", "١", "٢", "٣"}},
      {PreSplit::Qwen2, "a…b。c, d?  ", {"a", "…b", "。c", ",", " d", "?", "  "}},
      {PreSplit::Qwen2, "$x+=1;~y|`z`", {"$x", "+=", "1", ";~", "y", "|`", "z", "`"}},
      {PreSplit::Starcoder,
       "I'M here's 1234567 x",
       {"I", "'", "M", " here", "'s", " ", "1", "2", "3", "4", "5", "6", "7", " x"}},
      {PreSplit::Starcoder, "Hi  there\n\n  ok ", {"Hi", " ", " there", "\n\n ", " ok", " "}},
      {PreSplit::Starcoder,
       "(hello), 世界！ 안녕 ١٢٣",
       {"(", "hello", "),", " 世界", "！", " 안녕", " ", "١", "٢", "٣"}},
      {PreSplit::Starcoder, "a…b。c, d?  ", {"a", "…", "b", "。", "c", ",", " d", "?", "  "}},
      {PreSplit::Starcoder, "$x+=1;~y|`z`", {"$", "x", "+=", "1", ";~", "y", "|`", "z", "`"}},
      {PreSplit::Viking,
       "I'M here's 1234567 x",
       {"I'M", " here's", " ", "1", "2", "3", "4", "5", "6", "7", " x"}},
      {PreSplit::Viking, "Hi  there\n\n  ok ", {"Hi", " ", " there", "\n\n ", " ok", " "}},
      {PreSplit::Viking,
       "(hello), 世界！ 안녕 ١٢٣",
       {"(", "hello", "),", " 世界！", " 안녕", " ", "١", "٢", "٣"}},
      {PreSplit::Viking, "a…b。c, d?  ", {"a", "…", "b", "。", "c", ",", " d", "?  "}},
      {PreSplit::Viking, "$x+=1;~y|`z`", {"$x+=", "1", ";~y", "|", "`z`"}},
      {PreSplit::Gpt4o, "I'M here's 1234567 x", {"I'M", " here's", " ", "123", "456", "7", " x"}},
      {PreSplit::Gpt4o,
       "HELLOworld ÉCOLE Éclair don't/ABC",
       {"HELLOworld", " É", "COLE", " Éclair", " don't", "/ABC"}},
      {PreSplit::Tekken,
       "I'M here's 1234567 x",
       {"I", "'M", " here", "'s", " ", "1", "2", "3", "4", "5", "6", "7", " x"}},
      {PreSplit::Tekken,
       "HELLOworld ÉCOLE Éclair don't/ABC",
       {"HELLOworld", " É", "COLE", " Éclair", " don", "'t", "/ABC"}},
      {PreSplit::DeepseekV3,
       "I'M here's 1234567 x",
       {"I", "'M", " here", "'s", " ", "123", "456", "7", " x"}},
      {PreSplit::DeepseekV3,
       "(hello), 世界！ ひらがな ١٢٣",
       {"(hello", "),", " ", "世界", "！", " ", "ひらがな", " ", "١٢٣"}},
      {PreSplit::DeepseekV3,
       "$x+=1;~y|`z` ~1 é€",
       {"$x", "+=", "1", ";", "~y", "|`", "z", "`", " ", "~", "1", " é", "€"}},
  };
  for (const SplitCase& c : cases) {
    EXPECT_EQ(detail::pre_tokenize(c.split, c.text), c.words)
        << "split " << int(c.split) << " of '" << c.text << "'";
  }
}

TEST(Tokenizer, PreTokenizerNames) {
  using detail::PreSplit;
  const std::pair<const char*, PreSplit> names[] = {{"llama3", PreSplit::Llama3},
                                                    {"llama-v3", PreSplit::Llama3},
                                                    {"llama-bpe", PreSplit::Llama3},
                                                    {"falcon3", PreSplit::Llama3},
                                                    {"dbrx", PreSplit::Llama3},
                                                    {"smaug-bpe", PreSplit::Llama3},
                                                    {"qwen2", PreSplit::Qwen2},
                                                    {"deepseek-r1-qwen", PreSplit::Qwen2},
                                                    {"stablelm2", PreSplit::Qwen2},
                                                    {"deepseek-llm", PreSplit::DeepseekLlm},
                                                    {"deepseek-coder", PreSplit::DeepseekCoder},
                                                    {"starcoder", PreSplit::Starcoder},
                                                    {"refact", PreSplit::Starcoder},
                                                    {"command-r", PreSplit::Starcoder},
                                                    {"smollm", PreSplit::Starcoder},
                                                    {"falcon", PreSplit::Falcon},
                                                    {"gpt-2", PreSplit::Gpt2},
                                                    {"phi-2", PreSplit::Gpt2},
                                                    {"olmo", PreSplit::Gpt2},
                                                    {"bloom", PreSplit::Bloom},
                                                    {"viking", PreSplit::Viking},
                                                    {"default", PreSplit::Default},
                                                    {"", PreSplit::Default}};
  for (const auto& [name, split] : names) {
    const detail::PreTokenizer* p = detail::find_pre_tokenizer(name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_EQ(p->split, split) << name;
  }
  // llama.cpp's per-name settings: only Llama 3 names skip merges for whole-token words and add BOS;
  // the Qwen2, DeepSeek and Command-R names keep spaces on decoding; ChatGLM has no default BOS.
  EXPECT_TRUE(detail::find_pre_tokenizer("llama-bpe")->ignore_merges);
  EXPECT_TRUE(detail::find_pre_tokenizer("llama-bpe")->add_bos);
  EXPECT_FALSE(detail::find_pre_tokenizer("dbrx")->ignore_merges);
  EXPECT_FALSE(detail::find_pre_tokenizer("qwen2")->clean_spaces);
  EXPECT_TRUE(detail::find_pre_tokenizer("megrez")->clean_spaces);
  EXPECT_FALSE(detail::find_pre_tokenizer("command-r")->clean_spaces);
  EXPECT_TRUE(detail::find_pre_tokenizer("refact")->clean_spaces);
  EXPECT_FALSE(detail::find_pre_tokenizer("deepseek-coder")->clean_spaces);
  EXPECT_TRUE(detail::find_pre_tokenizer("chatglm-bpe")->no_bos);
  EXPECT_TRUE(detail::find_pre_tokenizer("tekken")->ignore_merges);
  EXPECT_EQ(detail::find_pre_tokenizer("llama4")->split, PreSplit::Gpt4o);
  EXPECT_EQ(detail::find_pre_tokenizer("hunyuan-dense")->split, PreSplit::DeepseekV3);
  EXPECT_EQ(detail::find_pre_tokenizer("kimi-k2"), nullptr);  // not implemented: refused by name
  EXPECT_EQ(detail::find_pre_tokenizer("Qwen2"), nullptr);    // names are case-sensitive, as in llama.cpp
  EXPECT_NE(detail::supported_pre_tokenizers().find("deepseek-coder"), std::string::npos);
}

TEST(Tokenizer, VocabularyProperties) {
  EXPECT_EQ(spm().n_vocab(), 32000);
  EXPECT_EQ(spm().vocab().model, "llama");
  EXPECT_EQ(spm().bos(), 1);
  EXPECT_EQ(spm().eos(), 2);
  EXPECT_TRUE(spm().is_eog(2));
  EXPECT_FALSE(spm().is_eog(1));
  EXPECT_EQ(gpt2().n_vocab(), 50257);
  EXPECT_EQ(gpt2().vocab().pre, "gpt-2");
  EXPECT_TRUE(gpt2().is_eog(gpt2().eos()));
  EXPECT_EQ(gpt2().vocab().tokens[size_t(gpt2().eos())], "<|endoftext|>");
  EXPECT_FALSE(gpt2().is_eog(15496));
  EXPECT_THROW(spm().token_piece(32000), Error);
  EXPECT_THROW(spm().token_piece(-1), Error);
}

TEST(Tokenizer, DecodeInvertsEncodeOnTestInputs) {
  int spm_checked = 0, gpt2_checked = 0;
  for (const Case& c : read_cases("ggml-vocab-llama-spm.gguf")) {
    EXPECT_EQ(spm().decode(spm().encode(c.text, false)), c.text);
    // After BOS the prefix space stays, as in llama.cpp: the strip applies to the first token only, and
    // remove_special (which drops the BOS) turns it off.
    const std::vector<int32_t> with_bos = spm().encode(c.text, true);
    ASSERT_FALSE(with_bos.empty());
    EXPECT_EQ(with_bos[0], 1);
    if (!c.text.empty()) {
      EXPECT_EQ(spm().decode(with_bos), " " + c.text);
      EXPECT_EQ(spm().decode(with_bos, true), " " + c.text);
    }
    ++spm_checked;
  }
  for (const Case& c : read_cases("ggml-vocab-gpt-2.gguf")) {
    if (touched_by_cleanup(c.text)) continue;
    EXPECT_EQ(gpt2().decode(gpt2().encode(c.text, false)), c.text);
    ++gpt2_checked;
  }
  EXPECT_GT(spm_checked, 40);
  EXPECT_GT(gpt2_checked, 35);
}

// Every normal token, detokenised and tokenised again, must give back exactly that token, except where
// the text cannot say which token it came from. Those cases are recognised from the text, counted and
// reported; for them the weaker property that llama.cpp's test-tokenizer-1 checks (the text survives
// encode + decode) must still hold.
TEST(Tokenizer, LlamaSpmEveryTokenRoundTrips) {
  const Tokenizer& t = spm();
  int exact = 0, no_prefix = 0, empty = 0;
  for (int32_t id = 0; id < t.n_vocab(); ++id) {
    if (t.token_type(id) != TokenType::Normal) continue;
    const std::string text = t.decode(std::vector<int32_t>{id});
    const std::vector<int32_t> again = t.encode(text, false);
    EXPECT_EQ(t.decode(again), text) << "token " << id;
    const std::string& piece = t.vocab().tokens[size_t(id)];
    if (piece.rfind("\xE2\x96\x81", 0) != 0) {
      // Encoding prepends a space, so a token that does not start with U+2581 can only appear after
      // another piece, never alone.
      ++no_prefix;
      continue;
    }
    if (text.empty()) {  // "▁" alone: its space is the prefix space that decoding strips
      ++empty;
      continue;
    }
    EXPECT_EQ(again, std::vector<int32_t>{id}) << "token " << id << " '" << piece << "' -> " << show(again);
    ++exact;
  }
  std::printf("llama-spm: %d tokens round-trip exactly, %d skipped (no leading U+2581), %d empty\n", exact,
              no_prefix, empty);
  EXPECT_GT(exact, 15000);
}

TEST(Tokenizer, Gpt2EveryTokenRoundTrips) {
  const Tokenizer& t = gpt2();
  int exact = 0, partial_utf8 = 0, several_words = 0;
  for (int32_t id = 0; id < t.n_vocab(); ++id) {
    if (t.token_type(id) != TokenType::Normal) continue;
    const std::string text = t.token_piece(id);
    if (!unicode::is_valid_utf8(text)) {
      // Part of a multi-byte character: the input cannot hold it alone (it would read as U+FFFD).
      ++partial_utf8;
      continue;
    }
    const std::vector<int32_t> again = t.encode(text, false);
    if (detail::gpt2_split(text).size() > 1) {
      // The pre-tokenizer never lets a merge cross a word boundary, so such a token is unreachable.
      ++several_words;
      EXPECT_EQ(t.decode(again), t.decode(std::vector<int32_t>{id}));
      continue;
    }
    EXPECT_EQ(again, std::vector<int32_t>{id}) << "token " << id << " '" << text << "' -> " << show(again);
    ++exact;
  }
  std::printf("gpt-2: %d tokens round-trip exactly, %d skipped (partial UTF-8), %d (split by the regex)\n",
              exact, partial_utf8, several_words);
  EXPECT_GT(exact, 49000);
}

// llama.cpp's test-tokenizer-1: every code point (but surrogates and most of the unassigned planes)
// survives encode + decode; U+2581 is the escaped space and comes back as a space.
TEST(Tokenizer, EveryCodePointRoundTrips) {
  for (const Tokenizer* t : {&spm(), &gpt2()}) {
    int failures = 0;
    for (uint32_t cp = 0; cp < 0x110000 && failures < 10; ++cp) {
      if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x40000 && cp <= 0xE0000) || cp == 0x2581) continue;
      const std::string s = unicode::to_utf8(cp);
      const std::string back = t->decode(t->encode(s, false));
      if (back != s) {
        ADD_FAILURE() << t->vocab().model << ": U+" << std::hex << cp << " came back as '" << back << "'";
        ++failures;
      }
    }
  }
}

TEST(Tokenizer, Gpt2PreTokenizerSemantics) {
  using V = std::vector<std::string>;
  EXPECT_EQ(detail::gpt2_split("a  b"), (V{"a", " ", " b"}));  // \s+(?!\S) leaves the last space
  EXPECT_EQ(detail::gpt2_split("a   "), (V{"a", "   "}));      // a trailing run stays whole
  EXPECT_EQ(detail::gpt2_split("Hello\n\nworld"), (V{"Hello", "\n", "\n", "world"}));
  EXPECT_EQ(detail::gpt2_split("it's they'LL we're"), (V{"it", "'s", " they", "'", "LL", " we", "'re"}));
  EXPECT_EQ(detail::gpt2_split(" 123abc!?  x"), (V{" 123", "abc", "!?", " ", " x"}));
  EXPECT_EQ(detail::gpt2_split("Führer 東京"), (V{"Führer", " 東京"}));
  EXPECT_EQ(detail::gpt2_split("½ ٣"), (V{"½", " ٣"}));              // \p{N} beyond ASCII
  EXPECT_EQ(detail::gpt2_split("\xFFx"), (V{"\xEF\xBF\xBD", "x"}));  // an invalid byte reads as U+FFFD
  EXPECT_TRUE(detail::gpt2_split("").empty());
}

TEST(Tokenizer, SpecialTokens) {
  // Control tokens' text is only parsed on request.
  EXPECT_EQ(spm().encode("<s>Hello</s>", false, true), (std::vector<int32_t>{1, 15043, 2}));
  const std::vector<int32_t> plain = spm().encode("<s>Hello</s>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  EXPECT_EQ(spm().decode(plain), "<s>Hello</s>");
  EXPECT_EQ(spm().decode(spm().encode("<s>Hello</s>", false, true), false, true), "<s> Hello</s>");
  EXPECT_EQ(spm().decode(std::vector<int32_t>{1, 15043, 2}), " Hello");
  // remove_special drops the BOS (the space stays, as in llama.cpp); EOS is not added by this vocabulary,
  // so it stays and renders as nothing.
  EXPECT_EQ(spm().decode(std::vector<int32_t>{1, 15043, 2}, true), " Hello");
  EXPECT_EQ(spm().decode(std::vector<int32_t>{15043, 2}, false, true), "Hello</s>");
  const std::vector<int32_t> eot = gpt2().encode("a<|endoftext|>b", false, true);
  EXPECT_EQ(eot, (std::vector<int32_t>{64, 50256, 65}));
  EXPECT_NE(gpt2().encode("a<|endoftext|>b", false, false), eot);
  EXPECT_EQ(gpt2().token_piece(50256), "");
  EXPECT_EQ(gpt2().token_piece(50256, true), "<|endoftext|>");
}

TEST(Tokenizer, DetokenizerAssemblesUtf8AcrossByteTokens) {
  for (const Tokenizer* t : {&spm(), &gpt2()}) {
    const std::string text = "🦙 Führer 東京 😶‍🌫️ done";
    const std::vector<int32_t> ids = t->encode(text, true);
    Detokenizer d(*t);
    std::string streamed;
    int held = 0;
    for (int32_t id : ids) {
      const std::string part = d.push(id);
      EXPECT_TRUE(unicode::is_valid_utf8(part)) << t->vocab().model << ": token " << id;
      if (part.empty() && !t->token_piece(id).empty()) ++held;
      streamed += part;
    }
    streamed += d.flush();
    EXPECT_GT(held, 0) << t->vocab().model << ": no character was split across tokens";
    std::string pieces;
    for (int32_t id : ids) pieces += t->token_piece(id);
    EXPECT_EQ(streamed, pieces);
    EXPECT_EQ(streamed, t->decode(ids));
  }
  // An incomplete sequence at the end is released by flush(), and a stray continuation byte at once.
  Detokenizer d(spm());
  EXPECT_EQ(d.push(243), "");  // <0xF0>
  EXPECT_EQ(d.push(162), "");  // <0x9F>
  EXPECT_EQ(d.flush(), "\xF0\x9F");
  EXPECT_EQ(d.push(131), "\x80");  // <0x80> alone can never complete
}

// tiny-a-f32.gguf carries the first 2048 tokens of the LLaMA vocabulary; its prompt_tokens are what
// llama.cpp produced for the prompt (BOS first). Decoding them gives the prompt back, and encoding that
// must reproduce them.
TEST(Tokenizer, GoldenPromptOfTinyModels) {
  const auto tok = Tokenizer::create(load_vocab(*GgufFile::open(data_path("golden/tiny-a-f32.gguf"))));
  ASSERT_EQ(tok->n_vocab(), 2048);
  const std::string json = testing::read_text(data_path("golden/tiny-a-f32.tokens.json"));
  const size_t open = json.find('[', json.find("\"prompt_tokens\""));
  const size_t close = json.find(']', open);
  ASSERT_NE(open, std::string::npos);
  std::vector<int32_t> prompt;
  std::string list = json.substr(open + 1, close - open - 1);
  std::replace(list.begin(), list.end(), ',', ' ');
  std::istringstream in(list);
  for (int32_t id; in >> id;) prompt.push_back(id);
  ASSERT_GT(prompt.size(), 10u);
  ASSERT_EQ(prompt[0], tok->bos());
  const std::string text = tok->decode(std::span(prompt).subspan(1));
  std::printf("golden prompt: '%s'\n", text.c_str());
  EXPECT_EQ(text.rfind("The quick brown fox", 0), 0u) << text;
  EXPECT_EQ(tok->encode(text, true), prompt) << "prompt text: '" << text << "'";
}

std::string long_text() {
  std::string s;
  for (const Case& c : read_cases("ggml-vocab-llama-spm.gguf")) s += c.text + "\n";
  while (s.size() < 10240) s += s;
  return s.substr(0, 10240);
}

TEST(Tokenizer, EncodesTenKilobytesQuickly) {
  const std::string text = long_text();
  for (const Tokenizer* t : {&spm(), &gpt2()}) {
    double best_ms = 1e9;
    size_t n = 0;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      n = t->encode(text, true).size();
      const auto t1 = std::chrono::steady_clock::now();
      best_ms = std::min(best_ms, std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::printf("%s: 10 KB -> %zu tokens in %.2f ms\n", t->vocab().model.c_str(), n, best_ms);
    EXPECT_LT(best_ms, 50.0) << t->vocab().model;
  }
}

// Vocabularies that load_vocab must refuse, built with GgufWriter.
class BrokenVocab : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::temp_dir("bluecl-tok"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  GgufWriter base(const std::string& model = "llama") {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.ggml.model", model);
    w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b"});
    w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1, -2});
    w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
    return w;
  }
  Status load_status(const GgufWriter& w) {
    const std::string path = dir_ + "/v.gguf";
    w.write(path);
    try {
      Tokenizer::create(load_vocab(*GgufFile::open(path)));
    } catch (const Error& e) {
      message_ = e.what();
      return e.status();
    }
    return Status::Ok;
  }
  std::string dir_, message_;
};

TEST_F(BrokenVocab, ValidBaseLoads) {
  EXPECT_EQ(load_status(base()), Status::Ok) << message_;
}

TEST_F(BrokenVocab, MismatchedArraySizes) {
  GgufWriter w = base();
  w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0});
  EXPECT_EQ(load_status(w), Status::BadFile);
  EXPECT_NE(message_.find("scores"), std::string::npos) << message_;

  GgufWriter w2 = base();
  w2.set_i32_array("tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 1});
  EXPECT_EQ(load_status(w2), Status::BadFile);
  EXPECT_NE(message_.find("token_type"), std::string::npos) << message_;
}

TEST_F(BrokenVocab, SpecialIdOutOfRange) {
  GgufWriter w = base();
  w.set_u32("tokenizer.ggml.eos_token_id", 5);
  EXPECT_EQ(load_status(w), Status::BadFile);
  EXPECT_NE(message_.find("eos_token_id"), std::string::npos) << message_;
}

TEST_F(BrokenVocab, DuplicateToken) {
  GgufWriter w = base();
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "a"});
  EXPECT_EQ(load_status(w), Status::BadFile);
  EXPECT_NE(message_.find("duplicate"), std::string::npos) << message_;
}

TEST_F(BrokenVocab, MissingKeysAndUnknownModels) {
  GgufWriter no_merges = base("gpt2");
  no_merges.set_string("tokenizer.ggml.pre", "gpt-2");
  EXPECT_EQ(load_status(no_merges), Status::BadFile);
  EXPECT_NE(message_.find("merges"), std::string::npos) << message_;

  GgufWriter other_pre = base("gpt2");
  other_pre.set_string("tokenizer.ggml.pre", "no-such-pre");
  other_pre.set_string_array("tokenizer.ggml.merges", {"a b"});
  EXPECT_EQ(load_status(other_pre), Status::Unsupported);
  // The message names the file's pre-tokenizer and the supported ones.
  EXPECT_NE(message_.find("'no-such-pre'"), std::string::npos) << message_;
  EXPECT_NE(message_.find("llama-bpe"), std::string::npos) << message_;
  EXPECT_NE(message_.find("qwen2"), std::string::npos) << message_;

  // A known family loads; no name at all is llama.cpp's default pre-tokenizer.
  for (const char* pre : {"qwen2", "deepseek-coder", "command-r", ""}) {
    GgufWriter known = base("gpt2");
    if (*pre) known.set_string("tokenizer.ggml.pre", pre);
    known.set_string_array("tokenizer.ggml.merges", {"a b"});
    EXPECT_EQ(load_status(known), Status::Ok) << pre << ": " << message_;
  }

  EXPECT_EQ(load_status(base("t5")), Status::Unsupported);
}

}  // namespace
}  // namespace bluecl
