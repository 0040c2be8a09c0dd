// The random-weight model generator (see tools/model_gen.h for the contract).
//
// Values: matrices are uniform with standard deviation 1/sqrt(fan_in), so each projection maps
// unit-variance inputs to unit-variance outputs (for hidden 2560 that is ~0.02, the usual init); with
// pre-norm blocks the residual stream then grows only like sqrt(layers), and the logits (after the final
// norm) have a standard deviation near 1: finite, varied, and as meaningless as any random model.
// Embedding rows have unit RMS so the first residual is on the scale of what the blocks add. Norm
// weights are 1 and biases small, so no stage is skipped by a zero or blown up by a large factor.
#include "tools/model_gen.h"

#include "graph/base/error.h"
#include "graph/graph.h"
#include "host/gguf/gguf.h"
#include "host/tokenizer/tokenizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>

namespace bluecl::gen {

namespace {

namespace fs = std::filesystem;

// splitmix64's finaliser: a bijective mix of 64 bits.
uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// How a tensor's values are drawn.
struct Init {
  float std = 0.0f;  // uniform in (-a, a) with a = sqrt(3) * std; 0: every value is `value`
  float value = 0.0f;
};

struct TensorSpec {
  std::string name;
  DType type;
  Shape shape;  // outermost first
  Init init;
};

// Fills one tensor row by row. Row r draws from a splitmix64 stream seeded by (tensor seed, r), so
// rows can be produced by any thread in any order with the same result.
void fill_tensor(const TensorSpec& t, uint64_t seed, int n_threads, uint8_t* dst) {
  const int64_t n_rows = t.shape.rows(), row_len = t.shape.last();
  const size_t row_bytes = dtype_bytes(t.type, row_len);
  const uint64_t tensor_seed = mix64(seed ^ fnv1a(t.name));
  const float amp = std::sqrt(3.0f) * t.init.std;
  auto rows = [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(static_cast<size_t>(row_len));
    for (int64_t r = r0; r < r1; ++r) {
      if (t.init.std == 0.0f) {
        std::fill(buf.begin(), buf.end(), t.init.value);
      } else {
        uint64_t state = mix64(tensor_seed + static_cast<uint64_t>(r));
        for (int64_t i = 0; i < row_len; i += 2) {
          const uint64_t bits = mix64(state);  // splitmix64: mix the state, then step it
          state += 0x9e3779b97f4a7c15ull;
          // Two 24-bit draws per 64 bits, each centred in its cell so the range is symmetric.
          const float u0 = (static_cast<float>(bits >> 40) + 0.5f) * 0x1p-23f - 1.0f;
          const float u1 = (static_cast<float>((bits >> 8) & 0xffffff) + 0.5f) * 0x1p-23f - 1.0f;
          buf[i] = amp * u0;
          if (i + 1 < row_len) buf[i + 1] = amp * u1;
        }
      }
      quantize_row(t.type, buf.data(), dst + static_cast<size_t>(r) * row_bytes, row_len);
    }
  };
  // Threads only pay off for the big matrices.
  const int64_t per_thread = 1 << 18;
  const int n =
      static_cast<int>(std::clamp<int64_t>(t.shape.numel() / per_thread, 1, std::max(1, n_threads)));
  if (n == 1) {
    rows(0, n_rows);
    return;
  }
  std::vector<std::thread> pool;
  for (int k = 0; k < n; ++k) pool.emplace_back(rows, n_rows * k / n, n_rows * (k + 1) / n);
  for (auto& th : pool) th.join();
}

// Collects a file's tensors with their init, choosing each matrix's stored type.
class TensorList {
 public:
  void matrix(std::string name, DType type, int64_t out, int64_t in, float std) {
    if (in % dtype_info(type).block != 0) {  // rows must be whole blocks; F16 is the nearest blockless type
      fallbacks_.push_back(name);
      type = DType::F16;
    }
    add(std::move(name), type, {out, in}, {std, 0.0f});
  }
  void norm(std::string name, int64_t n) { add(std::move(name), DType::F32, {n}, {0.0f, 1.0f}); }
  void bias(std::string name, int64_t n) { add(std::move(name), DType::F32, {n}, {0.02f, 0.0f}); }
  void add(std::string name, DType type, Shape shape, Init init) {
    specs_.push_back({std::move(name), type, shape, init});
  }
  const std::vector<TensorSpec>& specs() const { return specs_; }
  const std::vector<std::string>& fallbacks() const { return fallbacks_; }

 private:
  std::vector<TensorSpec> specs_;
  std::vector<std::string> fallbacks_;
};

float fan_in_std(int64_t fan_in) {
  return 1.0f / std::sqrt(static_cast<float>(fan_in));
}

TensorList llm_tensors(const LlmShape& s, int64_t n_vocab) {
  const int64_t E = s.n_embd, F = s.n_ff, Ekv = s.n_head_kv * (s.n_embd / s.n_head);
  TensorList t;
  t.matrix("token_embd.weight", s.embd_type, n_vocab, E, 1.0f);
  if (s.arch == "bluelm") {
    t.norm("token_embd_norm.weight", E);
    t.bias("token_embd_norm.bias", E);
  }
  for (int64_t il = 0; il < s.n_layer; ++il) {
    const std::string p = fmt::format("blk.{}.", il);
    t.norm(p + "attn_norm.weight", E);
    t.matrix(p + "attn_q.weight", s.type, E, E, fan_in_std(E));
    t.matrix(p + "attn_k.weight", s.type, Ekv, E, fan_in_std(E));
    t.matrix(p + "attn_v.weight", s.type, Ekv, E, fan_in_std(E));
    t.matrix(p + "attn_output.weight", s.type, E, E, fan_in_std(E));
    t.norm(p + "ffn_norm.weight", E);
    t.matrix(p + "ffn_gate.weight", s.type, F, E, fan_in_std(E));
    t.matrix(p + "ffn_up.weight", s.type, F, E, fan_in_std(E));
    t.matrix(p + "ffn_down.weight", s.type, E, F, fan_in_std(F));
  }
  t.norm("output_norm.weight", E);
  t.matrix("output.weight", s.embd_type, n_vocab, E, fan_in_std(E));
  return t;
}

TensorList vit_tensors(const VitShape& v, int64_t n_proj) {
  const int64_t H = v.n_embd, F = v.n_ff, P = v.patch_size, D = 4 * v.n_embd;  // D: a 2x2 group of tokens
  TensorList t;
  // PyTorch's conv weight [out, in, kh, kw], which GGUF lists as [kw, kh, in, out].
  t.add("v.patch_embd.weight", DType::F32, {H, 3, P, P}, {fan_in_std(3 * P * P), 0.0f});
  t.bias("v.patch_embd.bias", H);
  t.add("v.position_embd.weight", DType::F32, {v.n_patches(), H}, {0.02f, 0.0f});
  for (int64_t il = 0; il < v.n_layer; ++il) {
    const std::string p = fmt::format("v.blk.{}.", il);
    t.norm(p + "ln1.weight", H);
    t.bias(p + "ln1.bias", H);
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_out"}) {
      t.matrix(p + m + ".weight", v.type, H, H, fan_in_std(H));
      t.bias(p + m + ".bias", H);
    }
    t.norm(p + "ln2.weight", H);
    t.bias(p + "ln2.bias", H);
    t.matrix(p + "ffn_up.weight", v.type, F, H, fan_in_std(H));
    t.bias(p + "ffn_up.bias", F);
    t.matrix(p + "ffn_down.weight", v.type, H, F, fan_in_std(F));
    t.bias(p + "ffn_down.bias", H);
  }
  t.norm("v.post_ln.weight", H);
  t.bias("v.post_ln.bias", H);
  t.norm("mm.model.mlp.0.weight", D);
  t.bias("mm.model.mlp.0.bias", D);
  t.matrix("mm.model.mlp.1.weight", v.type, n_proj, D, fan_in_std(D));
  t.bias("mm.model.mlp.1.bias", n_proj);
  t.matrix("mm.model.mlp.3.weight", v.type, n_proj, n_proj, fan_in_std(n_proj));
  t.bias("mm.model.mlp.3.bias", n_proj);
  return t;
}

// llama.cpp's general.file_type (LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q4_0, MOSTLY_Q8_0).
uint32_t file_type(DType t) {
  switch (t) {
    case DType::F32:
      return 0;
    case DType::F16:
      return 1;
    case DType::Q4_0:
      return 2;
    case DType::Q8_0:
      return 7;
    case DType::I32:
      break;
  }
  BLUECL_ASSERT(false, "no file type for {}", dtype_name(t));
  return 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void set_llm_metadata(GgufWriter& w, const LlmShape& s, const GgufFile& vocab, int64_t n_vocab,
                      uint64_t seed) {
  const std::string& a = s.arch;
  w.set_string("general.architecture", a);
  w.set_string("general.name",
               fmt::format("random-{}-h{}-l{}-{}", a, s.n_embd, s.n_layer, lower(dtype_name(s.type))));
  w.set_string("general.description",
               fmt::format("random weights (bluecl gen-model, seed {}): every stage runs for real, but the "
                           "text it produces is meaningless",
                           seed));
  w.set_u32("general.file_type", file_type(s.type));
  w.set_u32(a + ".context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(s.n_embd / s.n_head));
  w.set_f32(a + ".rope.freq_base", s.rope_theta);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", s.rms_eps);
  w.set_u32(a + ".vocab_size", static_cast<uint32_t>(n_vocab));
  for (const std::string& key : vocab.keys())
    if (key.starts_with("tokenizer.")) w.copy_kv(vocab, key);
}

void set_vit_metadata(GgufWriter& w, const VitShape& v, int64_t n_proj, uint64_t seed) {
  w.set_string("general.architecture", "clip");
  w.set_string("general.name", fmt::format("random-bluelm_v-vision-h{}-l{}-{}", v.n_embd, v.n_layer,
                                           lower(dtype_name(v.type))));
  w.set_string("general.description",
               fmt::format("random weights (bluecl gen-model, seed {}): every stage runs for real, but the "
                           "image tokens it produces are meaningless",
                           seed));
  w.set_bool("clip.has_vision_encoder", true);
  w.set_bool("clip.has_text_encoder", false);
  w.set_string("clip.projector_type", "bluelm_v");
  w.set_u32("clip.vision.image_size", static_cast<uint32_t>(v.image_size));
  w.set_u32("clip.vision.patch_size", static_cast<uint32_t>(v.patch_size));
  w.set_u32("clip.vision.embedding_length", static_cast<uint32_t>(v.n_embd));
  w.set_u32("clip.vision.feed_forward_length", static_cast<uint32_t>(v.n_ff));
  w.set_u32("clip.vision.block_count", static_cast<uint32_t>(v.n_layer));
  w.set_u32("clip.vision.attention.head_count", static_cast<uint32_t>(v.n_head));
  w.set_f32("clip.vision.attention.layer_norm_epsilon", v.eps);
  w.set_f32_array("clip.vision.image_mean", {0.5f, 0.5f, 0.5f});
  w.set_f32_array("clip.vision.image_std", {0.5f, 0.5f, 0.5f});
  w.set_u32("clip.vision.projection_dim", static_cast<uint32_t>(n_proj));
  w.set_bool("clip.vision.downsample_column_major", false);
  w.set_u32("clip.vision.max_grid", 4);
  w.set_u32("clip.vision.max_tiles", 8);
}

// Adds the tensors as streamed entries and writes the file, reporting progress after each tensor.
GenFileReport write_file(GgufWriter& w, const TensorList& list, const std::string& path,
                         const GenOptions& opt) {
  GenFileReport rep;
  rep.path = path;
  rep.n_tensors = static_cast<int64_t>(list.specs().size());
  rep.f16_fallbacks = list.fallbacks();
  uint64_t total = 0;
  for (const TensorSpec& t : list.specs()) {
    rep.n_params += static_cast<uint64_t>(t.shape.numel());
    total += dtype_bytes(t.type, t.shape.numel());
  }
  const int n_threads =
      opt.n_threads > 0 ? opt.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  GenProgress prog{path, 0, rep.n_tensors, 0, total};
  for (const TensorSpec& t : list.specs()) {
    w.add_tensor(t.name, t.type, t.shape, [&opt, &prog, &t, n_threads](uint8_t* dst) {
      fill_tensor(t, opt.seed, n_threads, dst);
      ++prog.tensor;
      prog.bytes += dtype_bytes(t.type, t.shape.numel());
      if (opt.progress) opt.progress(prog);
    });
  }
  w.write(path);
  rep.file_bytes = fs::file_size(path);
  return rep;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::equivalent(a, b, ec)) return true;
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec) && !ec;
}

void check_range(std::string_view what, int64_t v, int64_t max) {
  if (v < 1 || v > max) fail(Status::InvalidArgument, "{} = {} is outside 1..{}", what, v, max);
}

}  // namespace

std::vector<std::string> preset_names() {
  return {"tiny", "bluelm-3b", "bluelm-v-3b"};
}

GenOptions preset(std::string_view name) {
  GenOptions o;  // the defaults are the tiny preset
  if (name == "tiny") return o;
  if (name == "bluelm-3b" || name == "bluelm-v-3b") {
    o.llm = {.arch = "bluelm",
             .n_embd = 2560,
             .n_layer = 32,
             .n_head = 20,
             .n_head_kv = 20,
             .n_ff = 6912,
             .n_ctx = 2048,
             .rms_eps = 1e-6f,
             .rope_theta = 10000.0f,
             .type = DType::Q4_0,
             .embd_type = DType::Q8_0};
    if (name == "bluelm-v-3b") o.vit = preset_vision(name);
    return o;
  }
  fail(Status::InvalidArgument, "unknown preset '{}' (presets: {})", name, fmt::join(preset_names(), ", "));
}

VitShape preset_vision(std::string_view name) {
  if (name == "tiny") return VitShape{};
  if (name != "bluelm-3b" && name != "bluelm-v-3b")
    fail(Status::InvalidArgument, "unknown preset '{}' (presets: {})", name, fmt::join(preset_names(), ", "));
  return VitShape{.n_embd = 1152,
                  .n_layer = 27,
                  .n_head = 16,
                  .n_ff = 4304,
                  .image_size = 384,
                  .patch_size = 14,
                  .eps = 1e-6f,
                  .type = DType::Q8_0};
}

DType parse_type(std::string_view s) {
  const std::string l = lower(s);
  if (l == "f32") return DType::F32;
  if (l == "f16") return DType::F16;
  if (l == "q8_0") return DType::Q8_0;
  if (l == "q4_0") return DType::Q4_0;
  fail(Status::InvalidArgument, "unknown weight type '{}' (types: f32, f16, q8_0, q4_0)", s);
}

void validate(const GenOptions& opt) {
  const LlmShape& s = opt.llm;
  if (s.arch != "llama" && s.arch != "bluelm")
    fail(Status::InvalidArgument, "unknown architecture '{}' (architectures: llama, bluelm)", s.arch);
  // The same limits as the model loader, so every file we write loads.
  check_range("hidden size", s.n_embd, 1 << 16);
  check_range("FFN size", s.n_ff, 1 << 18);
  check_range("layers", s.n_layer, 1024);
  check_range("heads", s.n_head, 1024);
  check_range("KV heads", s.n_head_kv, s.n_head);
  check_range("context length", s.n_ctx, 1 << 24);
  if (s.n_embd % s.n_head != 0)
    fail(Status::InvalidArgument, "hidden size {} is not a multiple of {} heads", s.n_embd, s.n_head);
  if (s.n_head % s.n_head_kv != 0)
    fail(Status::InvalidArgument, "{} heads cannot be grouped over {} KV heads", s.n_head, s.n_head_kv);
  if ((s.n_embd / s.n_head) % 2 != 0)
    fail(Status::InvalidArgument, "head size {} (hidden {} / {} heads) must be even for RoPE",
         s.n_embd / s.n_head, s.n_embd, s.n_head);
  if (!(s.rms_eps > 0.0f && s.rms_eps < 1.0f))
    fail(Status::InvalidArgument, "RMS epsilon {} is not in (0, 1)", s.rms_eps);
  if (!(s.rope_theta > 1.0f)) fail(Status::InvalidArgument, "RoPE theta {} must be > 1", s.rope_theta);
  for (DType t : {s.type, s.embd_type})
    if (t == DType::I32) fail(Status::InvalidArgument, "weights cannot be {}", dtype_name(t));
  if (opt.vit) {
    const VitShape& v = *opt.vit;
    check_range("vision hidden size", v.n_embd, 1 << 16);
    check_range("vision FFN size", v.n_ff, 1 << 18);
    check_range("vision layers", v.n_layer, 1024);
    check_range("vision heads", v.n_head, 1024);
    check_range("vision image size", v.image_size, 8192);
    check_range("vision patch size", v.patch_size, v.image_size);
    if (v.n_embd % v.n_head != 0)
      fail(Status::InvalidArgument, "vision hidden size {} is not a multiple of {} heads", v.n_embd,
           v.n_head);
    if (v.type != DType::F32 && v.type != DType::F16 && v.type != DType::Q8_0)
      fail(Status::InvalidArgument, "vision matrices must be f32, f16 or q8_0, not {}", dtype_name(v.type));
    if (!(v.eps > 0.0f && v.eps < 1.0f))
      fail(Status::InvalidArgument, "vision epsilon {} is not in (0, 1)", v.eps);
    if (opt.mmproj_out.empty()) fail(Status::InvalidArgument, "a vision tower needs an mmproj output path");
  } else if (!opt.mmproj_out.empty()) {
    fail(Status::InvalidArgument, "an mmproj output path was given but no vision tower is generated");
  }

  if (opt.out.empty()) fail(Status::InvalidArgument, "no output path");
  if (opt.vocab.empty()) fail(Status::InvalidArgument, "no vocabulary file to take the tokenizer from");
  std::vector<std::string> outs{opt.out};
  if (opt.vit) outs.push_back(opt.mmproj_out);
  if (outs.size() == 2 && same_file(outs[0], outs[1]))
    fail(Status::InvalidArgument, "the model and the mmproj cannot both be written to {}", opt.out);
  for (const std::string& p : outs) {
    if (same_file(p, opt.vocab))
      fail(Status::InvalidArgument, "{} is the vocabulary file; refusing to overwrite it", p);
    std::error_code ec;
    if (fs::is_directory(p, ec)) fail(Status::InvalidArgument, "{} is a directory", p);
    if (!opt.force && fs::exists(p, ec))
      fail(Status::InvalidArgument, "{} already exists; refusing to overwrite it (--force overwrites)", p);
  }
}

std::vector<GenFileReport> generate(const GenOptions& opt) {
  validate(opt);
  const std::unique_ptr<GgufFile> vocab = GgufFile::open(opt.vocab);
  const int64_t n_vocab = static_cast<int64_t>(load_vocab(*vocab).tokens.size());  // validates it, too

  std::vector<GenFileReport> reports;
  {
    GgufWriter w;
    set_llm_metadata(w, opt.llm, *vocab, n_vocab, opt.seed);
    reports.push_back(write_file(w, llm_tensors(opt.llm, n_vocab), opt.out, opt));
  }
  if (opt.vit) {
    GgufWriter w;
    set_vit_metadata(w, *opt.vit, opt.llm.n_embd, opt.seed);
    reports.push_back(write_file(w, vit_tensors(*opt.vit, opt.llm.n_embd), opt.mmproj_out, opt));
  }
  return reports;
}

}  // namespace bluecl::gen
