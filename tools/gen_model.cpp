// `bluecl gen-model`: writes a random-weight language model GGUF (and optionally its vision mmproj) of a
// preset or custom shape, with the tokenizer copied from a vocabulary GGUF. Options are parsed here and
// handed to tools/model_gen.h; progress goes to stderr, the summary to stdout. Exit status: 0 on success,
// 2 for bad options (the message names the option), 1 when writing fails.
//
// The default vocabulary is the compile definition BLUECL_DEFAULT_VOCAB (the source tree's
// tests/data/vocab/ggml-vocab-llama-spm.gguf); without it, --vocab is required.
#include "graph/base/error.h"
#include "tools/commands.h"
#include "tools/model_gen.h"

#include <fmt/format.h>

#include <unistd.h>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

namespace bluecl::cli {

namespace {

#ifdef BLUECL_DEFAULT_VOCAB
constexpr const char* kDefaultVocab = BLUECL_DEFAULT_VOCAB;
#else
constexpr const char* kDefaultVocab = "";
#endif

void print_help() {
  std::fputs(fmt::format(R"(usage: bluecl gen-model [options] -o FILE

Writes a GGUF language model with random weights (and, for vision presets or --vision, its mmproj),
in the layout bluecl and llama.cpp read. Random weights give meaningless text, but every stage -
loading, tokenizing, the vision tower, prefill, decode - runs for real, at the real size and speed.

  --preset NAME       tiny | bluelm-3b | bluelm-v-3b (default tiny)
                        tiny:        llama, hidden 128, 2 layers, 4 heads (2 KV), FFN 352, q8_0
                        bluelm-3b:   bluelm, hidden 2560, 32 layers, 20 heads, FFN 6912, q4_0 (~1.6 GB
                                     with the 32000-token default vocabulary)
                        bluelm-v-3b: bluelm-3b plus a SigLIP-400M mmproj (hidden 1152, 27 blocks,
                                     16 heads, FFN 4304, image 384, patch 14, q8_0; ~0.59 GB)
  -o, --out FILE      the language model file (required)
  --mmproj-out FILE   the vision file (default: FILE with .gguf replaced by -mmproj.gguf)
  --vision            also write an mmproj (implied by bluelm-v-3b, --mmproj-out and any --vit-*
                      option); tiny's is hidden 96, 2 blocks, 4 heads, FFN 160, image 98, patch 14
  --vocab FILE        GGUF to copy the tokenizer.ggml.* keys from; the vocabulary size is its token
                      count (default {})
  --arch NAME         llama | bluelm (default: the preset's); bluelm adds the embedding LayerNorm
                      (token_embd_norm.weight and .bias)
  --type TYPE         f32 | f16 | q8_0 | q4_0: the layer matrices (default: the preset's). token_embd
                      and output use the same type, except q8_0 when TYPE is q4_0 (as llama.cpp's
                      Q4_0 files do). Norms and biases are always f32.
  --hidden N          hidden size             --layers N     layers
  --heads N           attention heads         --ffn N        FFN size
  --kv-heads N        KV heads (default: the preset's if they divide the heads, else the heads)
  --ctx N             context length written to the file (default 2048)
  --vit-type TYPE     f32 | f16 | q8_0: the vision matrices (default q8_0). A matrix whose rows are
                      not whole 32-value blocks (SigLIP's FFN-down, 4304 inputs) is written as f16.
                      The patch convolution, norms, biases and position embedding are f32.
  --vit-hidden N  --vit-layers N  --vit-heads N  --vit-ffn N  --vit-image N  --vit-patch N
                      vision shape overrides (hidden size, blocks, heads, FFN, image and patch size)
  --seed N            random seed (default 42); the same seed gives byte-identical files
  --threads N         generator threads (default: all cores)
  --force             overwrite existing files (otherwise an existing file is an error)
  -h, --help          this text
)",
                         *kDefaultVocab ? kDefaultVocab : "none: --vocab is required")
                 .c_str(),
             stdout);
}

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void usage(fmt::format_string<Args...> f, Args&&... args) {
  throw UsageError(fmt::format(f, std::forward<Args>(args)...));
}

template <typename T>
T parse_number(const std::string& opt, const std::string& s) {
  T v{};
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end || s.empty())
    usage("{} expects a non-negative integer, got '{}'", opt, s);
  return v;
}

// Sizes of a generated model: at most 2^24 (a model dimension past that is a typo, and it keeps products
// of two sizes inside int64).
int64_t parse_positive(const std::string& opt, const std::string& s, int64_t hi = int64_t{1} << 24) {
  const int64_t v = parse_number<int64_t>(opt, s);
  if (v <= 0 || v > hi) usage("{} expects an integer in [1, {}], got '{}'", opt, hi, s);
  return v;
}

// Options that take a value, and flags that do not.
const char* const kValued[] = {
    "--preset",     "--out",       "--mmproj-out", "--vocab",     "--arch",      "--type",     "--hidden",
    "--layers",     "--heads",     "--kv-heads",   "--ffn",       "--ctx",       "--vit-type", "--vit-hidden",
    "--vit-layers", "--vit-heads", "--vit-ffn",    "--vit-image", "--vit-patch", "--seed",     "--threads"};
const char* const kFlags[] = {"--vision", "--force", "--help"};

// Reads argv into option -> value (the last occurrence wins), so the preset applies before the overrides
// whatever their order.
std::map<std::string, std::string> read_args(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string shown = argv[i];
    std::string_view sv = shown;
    if (sv == "-o") sv = "--out";
    if (sv == "-h") sv = "--help";
    std::string a, value;
    bool has_value = false;
    if (const size_t eq = sv.find('='); sv.starts_with("--") && eq != std::string_view::npos) {
      a = std::string(sv.substr(0, eq));
      value = std::string(sv.substr(eq + 1));
      has_value = true;
    } else {
      a = std::string(sv);
    }
    if (std::find(std::begin(kFlags), std::end(kFlags), a) != std::end(kFlags)) {
      if (has_value) usage("{} takes no value", a);
      args.try_emplace(a);  // present; flags carry no value
    } else if (std::find(std::begin(kValued), std::end(kValued), a) != std::end(kValued)) {
      if (!has_value) {
        if (i + 1 >= argc) usage("{} needs a value", shown);
        value = argv[++i];
      }
      args[a] = value;
    } else {
      usage("unknown option '{}' (see bluecl gen-model --help)", shown);
    }
  }
  return args;
}

gen::GenOptions options_from(const std::map<std::string, std::string>& args) {
  auto get = [&](const char* k) -> const std::string* {
    auto it = args.find(k);
    return it == args.end() ? nullptr : &it->second;
  };
  const std::string preset_name = get("--preset") ? *get("--preset") : "tiny";
  gen::GenOptions o = gen::preset(preset_name);
  gen::LlmShape& s = o.llm;

  const std::string* out = get("--out");
  if (!out || out->empty()) usage("no output file: pass -o FILE");
  o.out = *out;
  o.vocab = get("--vocab") ? *get("--vocab") : kDefaultVocab;
  if (o.vocab.empty()) usage("no vocabulary file: pass --vocab FILE (a GGUF with tokenizer.ggml.* keys)");
  if (auto* v = get("--arch")) s.arch = *v;
  if (auto* v = get("--type")) {
    s.type = gen::parse_type(*v);
    s.embd_type = s.type == DType::Q4_0 ? DType::Q8_0 : s.type;
  }
  if (auto* v = get("--hidden")) s.n_embd = parse_positive("--hidden", *v);
  if (auto* v = get("--layers")) s.n_layer = parse_positive("--layers", *v);
  if (auto* v = get("--ffn")) s.n_ff = parse_positive("--ffn", *v);
  if (auto* v = get("--ctx")) s.n_ctx = parse_positive("--ctx", *v);
  if (auto* v = get("--heads")) {
    s.n_head = parse_positive("--heads", *v);
    if (s.n_head % s.n_head_kv != 0) s.n_head_kv = s.n_head;
  }
  if (auto* v = get("--kv-heads")) s.n_head_kv = parse_positive("--kv-heads", *v);
  if (auto* v = get("--seed")) o.seed = parse_number<uint64_t>("--seed", *v);
  if (auto* v = get("--threads")) o.n_threads = static_cast<int>(parse_positive("--threads", *v, 256));
  o.force = get("--force") != nullptr;

  bool vision = o.vit.has_value() || get("--vision") || get("--mmproj-out");
  for (const auto& [k, v] : args) vision = vision || k.starts_with("--vit-");
  if (vision) {
    if (!o.vit) o.vit = gen::preset_vision(preset_name);
    gen::VitShape& vt = *o.vit;
    if (auto* v = get("--vit-type")) vt.type = gen::parse_type(*v);
    if (auto* v = get("--vit-hidden")) vt.n_embd = parse_positive("--vit-hidden", *v);
    if (auto* v = get("--vit-layers")) vt.n_layer = parse_positive("--vit-layers", *v);
    if (auto* v = get("--vit-heads")) vt.n_head = parse_positive("--vit-heads", *v);
    if (auto* v = get("--vit-ffn")) vt.n_ff = parse_positive("--vit-ffn", *v);
    if (auto* v = get("--vit-image")) vt.image_size = parse_positive("--vit-image", *v);
    if (auto* v = get("--vit-patch")) vt.patch_size = parse_positive("--vit-patch", *v);
    if (auto* v = get("--mmproj-out")) {
      o.mmproj_out = *v;
    } else {
      std::filesystem::path p(o.out);
      const std::string stem = p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
      o.mmproj_out = (p.parent_path() / (stem + "-mmproj.gguf")).string();
    }
  }
  return o;
}

// Progress on stderr: one updating line on a terminal, else a line per tenth of the file.
class Progress {
 public:
  void operator()(const gen::GenProgress& p) {
    const double mb = p.bytes / 1e6, total = p.total_bytes / 1e6;
    if (tty_) {
      std::fputs(
          fmt::format("\r  {}: tensor {}/{}, {:.1f}/{:.1f} MB", p.file, p.tensor, p.n_tensors, mb, total)
              .c_str(),
          stderr);
      if (p.tensor == p.n_tensors) std::fputc('\n', stderr);
      return;
    }
    const int tenth = p.total_bytes ? static_cast<int>(10 * p.bytes / p.total_bytes) : 10;
    if (p.tensor == 1) last_tenth_ = -1;
    if (tenth != last_tenth_ || p.tensor == p.n_tensors) {
      last_tenth_ = tenth;
      std::fputs(
          fmt::format("  {}: tensor {}/{}, {:.1f}/{:.1f} MB\n", p.file, p.tensor, p.n_tensors, mb, total)
              .c_str(),
          stderr);
    }
  }

 private:
  bool tty_ = isatty(fileno(stderr)) != 0;
  int last_tenth_ = -1;
};

void print_summary(const std::vector<gen::GenFileReport>& reps, double seconds) {
  uint64_t bytes = 0;
  for (const gen::GenFileReport& r : reps) {
    std::fputs(fmt::format("{}: {} tensors, {:.1f} M parameters, {:.1f} MB\n", r.path, r.n_tensors,
                           r.n_params / 1e6, r.file_bytes / 1e6)
                   .c_str(),
               stdout);
    if (!r.f16_fallbacks.empty())
      std::fputs(fmt::format("  {} matrices written as f16 (rows not whole blocks), e.g. {}\n",
                             r.f16_fallbacks.size(), r.f16_fallbacks.front())
                     .c_str(),
                 stdout);
    bytes += r.file_bytes;
  }
  std::fputs(fmt::format("wrote {:.1f} MB in {:.1f} s ({:.0f} MB/s)\n", bytes / 1e6, seconds,
                         seconds > 0 ? bytes / 1e6 / seconds : 0.0)
                 .c_str(),
             stdout);
  std::fputs(
      "note: the weights are random, so the model's text (and image tokens) are meaningless; every stage "
      "still runs for real, at the real size and speed\n",
      stdout);
}

}  // namespace

int gen_model_main(int argc, char** argv) {
  try {
    const auto args = read_args(argc, argv);
    if (args.count("--help")) {
      print_help();
      return 0;
    }
    gen::GenOptions o = options_from(args);
    Progress progress;
    o.progress = [&progress](const gen::GenProgress& p) { progress(p); };
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<gen::GenFileReport> reps = gen::generate(o);
    print_summary(reps, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return 0;
  } catch (const UsageError& e) {
    std::fputs(fmt::format("bluecl gen-model: error: {}\n", e.what()).c_str(), stderr);
    return 2;
  } catch (const Error& e) {
    std::fputs(fmt::format("bluecl gen-model: error: {}\n", e.what()).c_str(), stderr);
    return e.status() == Status::InvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fputs(fmt::format("bluecl gen-model: error: {}\n", e.what()).c_str(), stderr);
    return 1;
  }
}

}  // namespace bluecl::cli
