#include "host/model/llm_model.h"

#include "graph/base/error.h"
#include "graph/base/hash.h"
#include "graph/base/log.h"

#include <fmt/format.h>

#include <set>

namespace bluecl {

namespace {

// Reads a weight the graph needs: present, of a loadable type, of the expected shape.
WeightRef need(const GgufFile& f, const std::string& name, Shape shape) {
  const GgufTensor& t = f.require_tensor(name, shape);
  return WeightRef{name, *t.dtype, t.shape, t.data};
}

uint64_t model_fingerprint(const GgufFile& f, const std::string& arch, const LlmHParams& hp) {
  std::string key = fmt::format(
      "{} vocab {} ctx {} embd {} ff {} layers {} heads {}/{} rot {} eps {} theta {} "
      "rope {} embd_norm {}\n",
      arch, hp.n_vocab, hp.n_ctx_train, hp.n_embd, hp.n_ff, hp.n_layer, hp.n_head, hp.n_head_kv, hp.n_rot,
      hp.rms_eps, hp.rope_theta, static_cast<int>(hp.rope_mode), hp.embd_norm);
  constexpr size_t kSample = 64;  // bytes of each larger tensor: one page touched per tensor
  for (const GgufTensor& t : f.tensors()) {
    key += fmt::format("{} {} {}\n", t.name, t.ggml_type, t.shape.str());
    const size_t n = t.shape.rank == 1 ? t.bytes : std::min(t.bytes, kSample);
    if (t.data) key.append(static_cast<const char*>(t.data), n);
  }
  return hash64(key);
}

WeightRef optional_weight(const GgufFile& f, const std::string& name, Shape shape) {
  return f.find_tensor(name) ? need(f, name, shape) : WeightRef{};
}

int64_t positive(const GgufFile& f, const std::string& key, int64_t value, int64_t max) {
  if (value <= 0 || value > max)
    fail(Status::BadFile, "{}: {} = {} is outside 1..{}", f.path(), key, value, max);
  return value;
}

LlmHParams read_hparams(const GgufFile& f, const std::string& a) {
  LlmHParams hp;
  auto req = [&](const char* k, int64_t max) {
    return positive(f, a + "." + k, f.require_int(a + "." + k), max);
  };
  hp.n_embd = req("embedding_length", 1 << 16);
  hp.n_ff = req("feed_forward_length", 1 << 18);
  hp.n_layer = req("block_count", 1024);
  hp.n_head = req("attention.head_count", 1024);
  hp.n_head_kv = positive(f, a + ".attention.head_count_kv",
                          f.get_int(a + ".attention.head_count_kv").value_or(hp.n_head), hp.n_head);
  hp.n_ctx_train =
      positive(f, a + ".context_length", f.get_int(a + ".context_length").value_or(2048), 1 << 24);
  hp.rms_eps = static_cast<float>(f.get_float(a + ".attention.layer_norm_rms_epsilon").value_or(1e-6));
  hp.rope_theta = static_cast<float>(f.get_float(a + ".rope.freq_base").value_or(10000.0));
  if (hp.n_embd % hp.n_head != 0)
    fail(Status::BadFile, "{}: embedding length {} is not a multiple of {} heads", f.path(), hp.n_embd,
         hp.n_head);
  if (hp.n_head % hp.n_head_kv != 0)
    fail(Status::BadFile, "{}: {} heads cannot be grouped over {} KV heads", f.path(), hp.n_head,
         hp.n_head_kv);
  hp.n_rot = positive(f, a + ".rope.dimension_count",
                      f.get_int(a + ".rope.dimension_count").value_or(hp.head_dim()), hp.head_dim());
  if (hp.n_rot % 2 != 0) fail(Status::BadFile, "{}: rope.dimension_count {} is odd", f.path(), hp.n_rot);
  if (!(hp.rms_eps > 0.0f && hp.rms_eps < 1.0f))
    fail(Status::BadFile, "{}: rms epsilon {} is not in (0, 1)", f.path(), hp.rms_eps);
  if (!(hp.rope_theta > 1.0f))
    fail(Status::BadFile, "{}: rope theta {} must be > 1", f.path(), hp.rope_theta);
  hp.embd_norm = a == "bluelm";
  return hp;
}

}  // namespace

std::unique_ptr<LlmModel> LlmModel::load(const std::string& path, bool vocab_only) {
  auto m = std::unique_ptr<LlmModel>(new LlmModel());
  m->file_ = GgufFile::open(path);
  const GgufFile& f = *m->file_;
  m->vocab_only_ = vocab_only;
  m->tok_ = Tokenizer::create(load_vocab(f));
  if (vocab_only) return m;

  m->arch_ = f.require_string("general.architecture");
  if (m->arch_ != "llama" && m->arch_ != "bluelm")
    fail(Status::Unsupported, "{}: architecture '{}' is not supported (bluecl runs llama and bluelm)", path,
         m->arch_);
  LlmHParams& hp = m->hp_;
  hp = read_hparams(f, m->arch_);
  const GgufTensor& emb = f.require_tensor("token_embd.weight");
  if (emb.shape.rank != 2 || emb.shape[1] != hp.n_embd)
    fail(Status::BadFile, "{}: token_embd.weight is {}, expected [n_vocab, {}]", path, emb.shape.str(),
         hp.n_embd);
  hp.n_vocab = emb.shape[0];
  if (hp.n_vocab != m->tok_->n_vocab())
    fail(Status::BadFile, "{}: token_embd.weight has {} rows but the vocabulary {} tokens", path, hp.n_vocab,
         m->tok_->n_vocab());

  const int64_t E = hp.n_embd, F = hp.n_ff, hd = hp.head_dim(), Ekv = hp.n_head_kv * hd;
  LlmWeights& w = m->w_;
  w.tok_embd = need(f, "token_embd.weight", {hp.n_vocab, E});
  if (hp.embd_norm) {
    w.embd_norm_w = need(f, "token_embd_norm.weight", {E});
    w.embd_norm_b = need(f, "token_embd_norm.bias", {E});
  }
  w.out_norm = need(f, "output_norm.weight", {E});
  w.output = f.find_tensor("output.weight") ? need(f, "output.weight", {hp.n_vocab, E}) : w.tok_embd;
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const std::string p = fmt::format("blk.{}.", il);
    LlmLayerWeights L;
    L.attn_norm = need(f, p + "attn_norm.weight", {E});
    L.wq = need(f, p + "attn_q.weight", {E, E});
    L.wk = need(f, p + "attn_k.weight", {Ekv, E});
    L.wv = need(f, p + "attn_v.weight", {Ekv, E});
    L.wo = need(f, p + "attn_output.weight", {E, E});
    L.bq = optional_weight(f, p + "attn_q.bias", {E});
    L.bk = optional_weight(f, p + "attn_k.bias", {Ekv});
    L.bv = optional_weight(f, p + "attn_v.bias", {Ekv});
    L.ffn_norm = need(f, p + "ffn_norm.weight", {E});
    L.gate = need(f, p + "ffn_gate.weight", {F, E});
    L.up = need(f, p + "ffn_up.weight", {F, E});
    L.down = need(f, p + "ffn_down.weight", {E, F});
    w.layers.push_back(std::move(L));
  }
  // Norms and biases are applied in f32.
  auto f32_only = [&](const WeightRef& r) {
    if (r && r.dtype != DType::F32)
      fail(Status::Unsupported, "{}: {} is {}; norms and biases must be f32", path, r.name,
           dtype_name(r.dtype));
  };
  f32_only(w.out_norm);
  f32_only(w.embd_norm_w);
  f32_only(w.embd_norm_b);
  for (const LlmLayerWeights& L : w.layers) {
    for (const WeightRef* r : {&L.attn_norm, &L.ffn_norm, &L.bq, &L.bk, &L.bv}) f32_only(*r);
  }
  m->fingerprint_ = model_fingerprint(f, m->arch_, hp);
  log(LogLevel::Info, "model",
      "{}: {} with {} layers, hidden {}, {} heads ({} KV), FFN {}, vocab {}, {:.2f} GB of weights", path,
      m->arch_, hp.n_layer, E, hp.n_head, hp.n_head_kv, F, hp.n_vocab, m->weight_bytes() / 1e9);
  return m;
}

size_t LlmModel::weight_bytes() const {
  std::set<const void*> seen;
  size_t total = 0;
  auto add = [&](const WeightRef& r) {
    if (r && seen.insert(r.data).second) total += dtype_bytes(r.dtype, r.shape.numel());
  };
  add(w_.tok_embd);
  add(w_.embd_norm_w);
  add(w_.embd_norm_b);
  add(w_.out_norm);
  add(w_.output);
  for (const LlmLayerWeights& L : w_.layers)
    for (const WeightRef* r : {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.bq, &L.bk, &L.bv, &L.ffn_norm,
                               &L.gate, &L.up, &L.down})
      add(*r);
  return total;
}

}  // namespace bluecl

namespace bluecl {

namespace {
template <typename F>
void for_each_matmul_weight(const LlmWeights& w, F&& f) {
  f(w.output);
  for (const LlmLayerWeights& L : w.layers)
    for (const WeightRef* r : {&L.wq, &L.wk, &L.wv, &L.wo, &L.gate, &L.up, &L.down}) f(*r);
}
}  // namespace

int64_t LlmModel::matmul_params() const {
  int64_t n = 0;
  for_each_matmul_weight(w_, [&](const WeightRef& r) { n += r.shape.numel(); });
  return n;
}

size_t LlmModel::matmul_weight_bytes() const {
  size_t n = 0;
  for_each_matmul_weight(w_, [&](const WeightRef& r) { n += dtype_bytes(r.dtype, r.shape.numel()); });
  return n;
}

}  // namespace bluecl
