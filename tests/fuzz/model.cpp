// Fuzz target "model": a language model and a vision tower loaded from any bytes (LlmModel::load and
// VitModel::load: hyper-parameters, every weight's presence, shape and type, the tokenizer), and for a
// file that loads, its graphs built (prefill and decode shapes for the LLM, one tile for the ViT). No
// weight is run. Bad input must end in Error.
#include "tests/fuzz/fuzz.h"

#include "graph/base/error.h"
#include "graph/llm.h"
#include "graph/vit.h"
#include "host/model/llm_model.h"
#include "host/model/vit_model.h"
#include "tools/model_gen.h"

namespace bluecl::fuzz {
namespace {

void llm(const std::string& path) {
  std::unique_ptr<LlmModel> m;
  try {
    m = LlmModel::load(path);
  } catch (const Error& e) {
    expect_input_error(e);
    return;
  }
  (void)m->weight_bytes();
  (void)m->matmul_params();
  // A q8_0 KV cache needs whole blocks per head (the session refuses it otherwise).
  const DType kv8 = m->hparams().head_dim() % kQK == 0 ? DType::Q8_0 : DType::F32;
  for (const LlmGraphSpec& spec : {LlmGraphSpec{.n_tok = 3, .n_ctx = 8, .all_logits = true},
                                   LlmGraphSpec{.n_tok = 1, .n_ctx = 8, .kv_type = kv8},
                                   LlmGraphSpec{.n_tok = 2, .n_ctx = 4, .embd_input = true}}) {
    try {
      const auto g = build_llm_graph(m->hparams(), m->weights(), spec);
      BLUECL_FUZZ_CHECK(g->logits);
    } catch (const Error& e) {
      expect_input_error(e);
      // A file the loader accepted may still ask for a graph the builder refuses, with a message.
    }
  }
  const std::vector<int32_t> ids = m->tokenizer().encode("Hi <image>", true, true);
  for (int32_t id : ids) BLUECL_FUZZ_CHECK(id >= 0 && id < m->tokenizer().n_vocab());
}

void vit(const std::string& path) {
  std::unique_ptr<VitModel> m;
  try {
    m = VitModel::load(path);
  } catch (const Error& e) {
    expect_input_error(e);
    return;
  }
  (void)m->weight_bytes();
  (void)m->all_weights();
  (void)m->tile_options();
  (void)m->grid_options();
  for (const VitGraphSpec& spec : {VitGraphSpec{.n_tiles = 1}, VitGraphSpec{.n_tiles = 2, .project = false},
                                   VitGraphSpec{.n_tiles = 1, .part = VitPart::PatchEmbed},
                                   VitGraphSpec{.n_tiles = 1, .part = VitPart::Blocks}}) {
    try {
      const auto g = build_vit_graph(m->hparams(), m->weights(), spec);
      BLUECL_FUZZ_CHECK(g->output());
    } catch (const Error& e) {
      expect_input_error(e);
    }
  }
}

int run(const uint8_t* data, size_t size) {
  const std::string& path = as_file(data, size);
  llm(path);
  vit(path);
  return 0;
}

// Tiny generated models (tools/model_gen, the generator `bluecl gen-model` uses) with small vocabularies
// cut from tests/data/vocab: both architectures, every weight type, both vocabulary kinds, and a vision
// tower in F32 and Q8_0. Each is a few tens of KiB.
void seeds(const std::function<void(const std::string&, const Bytes&)>& emit) {
  const std::string dir = temp_dir();
  write_small_vocab("llama", 300, dir + "/spm.gguf");
  write_small_vocab("gpt2", 300, dir + "/bpe.gguf");
  struct Case {
    const char* name;
    const char* arch;
    int64_t n_embd;
    DType type;
    const char* vocab;
    std::optional<DType> vision;
  };
  const Case cases[] = {
      {"llama-q8_0", "llama", 64, DType::Q8_0, "spm", DType::Q8_0},  // head size 32: a q8_0 KV cache
      {"llama-q4_0-bpe", "llama", 32, DType::Q4_0, "bpe", std::nullopt},
      {"bluelm-f16", "bluelm", 32, DType::F16, "spm", DType::F32},
      {"llama-f32-bpe", "llama", 32, DType::F32, "bpe", std::nullopt},
  };
  for (const Case& c : cases) {
    gen::GenOptions o;
    o.llm = gen::LlmShape{.arch = c.arch,
                          .n_embd = c.n_embd,
                          .n_layer = 1,
                          .n_head = 2,
                          .n_head_kv = 1,
                          .n_ff = 64,
                          .n_ctx = 64,
                          .type = c.type,
                          .embd_type = c.type == DType::Q4_0 ? DType::Q8_0 : c.type};
    o.out = dir + "/" + c.name + ".gguf";
    o.vocab = dir + "/" + c.vocab + ".gguf";
    o.n_threads = 1;
    if (c.vision) {
      o.vit = gen::VitShape{.n_embd = 32,
                            .n_layer = 1,
                            .n_head = 2,
                            .n_ff = 64,
                            .image_size = 28,
                            .patch_size = 14,
                            .type = *c.vision};
      o.mmproj_out = dir + "/" + c.name + "-mmproj.gguf";
    }
    gen::generate(o);
    emit(c.name, read_bytes(o.out));
    if (c.vision) emit(std::string(c.name) + "-mmproj", read_bytes(o.mmproj_out));
  }
}

}  // namespace
}  // namespace bluecl::fuzz

BLUECL_FUZZ_TARGET(model, bluecl::fuzz::run, bluecl::fuzz::seeds)
