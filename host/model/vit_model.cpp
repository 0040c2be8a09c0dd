// Loading an mmproj GGUF into VitHParams and VitWeights (contract in host/model/vit_model.h).
#include "host/model/vit_model.h"

#include "graph/base/error.h"
#include "graph/base/log.h"

#include <fmt/format.h>

#include <cmath>

namespace bluecl {

namespace {

enum class Role { Vector, Matrix };  // norms/biases/tables must be f32; matrices may be f32, f16 or q8_0

void check_type(const GgufFile& f, const std::string& name, DType t, Role role) {
  if (role == Role::Vector && t != DType::F32)
    fail(Status::Unsupported, "{}: tensor '{}' is {}; norms, biases and the position embedding must be f32",
         f.path(), name, dtype_name(t));
  if (role == Role::Matrix && t != DType::F32 && t != DType::F16 && t != DType::Q8_0)
    fail(Status::Unsupported, "{}: tensor '{}' is {}; vision matrices must be f32, f16 or q8_0", f.path(),
         name, dtype_name(t));
}

WeightRef need(const GgufFile& f, const std::string& name, Shape shape, Role role) {
  const GgufTensor& t = f.require_tensor(name, shape);
  check_type(f, name, *t.dtype, role);
  return WeightRef{name, *t.dtype, t.shape, t.data};
}

int64_t require_in(const GgufFile& f, const std::string& key, int64_t max) {
  const int64_t v = f.require_int(key);
  if (v <= 0 || v > max) fail(Status::BadFile, "{}: {} = {} is outside 1..{}", f.path(), key, v, max);
  return v;
}

int64_t optional_in(const GgufFile& f, const std::string& key, int64_t def, int64_t max) {
  return f.has(key) ? require_in(f, key, max) : def;
}

std::array<float, 3> rgb(const GgufFile& f, const std::string& key, std::array<float, 3> def, bool positive) {
  const std::optional<std::vector<float>> v = f.get_float_array(key);
  if (!v) return def;
  if (v->size() != 3)
    fail(Status::BadFile, "{}: {} has {} values, expected 3 (R, G, B)", f.path(), key, v->size());
  for (float x : *v)
    if (!std::isfinite(x) || (positive && !(x > 0.0f)))
      fail(Status::BadFile, "{}: {} holds {}, which is not a {}number", f.path(), key, x,
           positive ? "positive " : "");
  return {(*v)[0], (*v)[1], (*v)[2]};
}

VitHParams read_hparams(const GgufFile& f) {
  VitHParams hp;
  hp.image_size = require_in(f, "clip.vision.image_size", 1 << 13);
  hp.patch_size = require_in(f, "clip.vision.patch_size", hp.image_size);
  hp.n_embd = require_in(f, "clip.vision.embedding_length", 1 << 16);
  hp.n_ff = require_in(f, "clip.vision.feed_forward_length", 1 << 18);
  hp.n_layer = require_in(f, "clip.vision.block_count", 1024);
  hp.n_head = require_in(f, "clip.vision.attention.head_count", hp.n_embd);
  if (hp.n_embd % hp.n_head != 0)
    fail(Status::BadFile, "{}: embedding length {} is not a multiple of {} heads", f.path(), hp.n_embd,
         hp.n_head);
  hp.eps = static_cast<float>(f.get_float("clip.vision.attention.layer_norm_epsilon").value_or(1e-6));
  if (!(hp.eps > 0.0f && hp.eps < 1.0f))
    fail(Status::BadFile, "{}: clip.vision.attention.layer_norm_epsilon {} is not in (0, 1)", f.path(),
         hp.eps);
  hp.column_major = f.get_bool("clip.vision.downsample_column_major").value_or(false);
  return hp;
}

}  // namespace

std::unique_ptr<VitModel> VitModel::load(const std::string& path) {
  auto m = std::unique_ptr<VitModel>(new VitModel());
  m->file_ = GgufFile::open(path);
  const GgufFile& f = *m->file_;

  const std::string arch = f.require_string("general.architecture");
  if (arch != "clip")
    fail(Status::Unsupported, "{}: architecture '{}' is not a vision tower (an mmproj file has 'clip')", path,
         arch);
  if (!f.get_bool("clip.has_vision_encoder").value_or(true))
    fail(Status::Unsupported, "{}: clip.has_vision_encoder is false", path);
  const std::string proj = f.require_string("clip.projector_type");
  if (proj != "bluelm_v")
    fail(Status::Unsupported, "{}: projector type '{}' is not supported (bluecl runs 'bluelm_v')", path,
         proj);

  VitHParams& hp = m->hp_;
  hp = read_hparams(f);
  m->mean_ = rgb(f, "clip.vision.image_mean", m->mean_, false);
  m->std_ = rgb(f, "clip.vision.image_std", m->std_, true);
  m->max_grid_ = static_cast<int>(optional_in(f, "clip.vision.max_grid", 4, 16));
  m->max_tiles_ = static_cast<int>(optional_in(f, "clip.vision.max_tiles", 8, 256));

  const int64_t E = hp.n_embd, F = hp.n_ff, p = hp.patch_size, M = 4 * E;
  // The projection size is the LLM's hidden size; files may leave it to the projector's shape.
  const GgufTensor& fc1 = f.require_tensor("mm.model.mlp.1.weight");
  if (fc1.shape.rank != 2 || fc1.shape[1] != M)
    fail(Status::BadFile, "{}: tensor 'mm.model.mlp.1.weight' has shape {}, expected [projection_dim, {}]",
         path, fc1.shape.str(), M);
  hp.proj_dim = optional_in(f, "clip.vision.projection_dim", fc1.shape[0], 1 << 16);

  VitWeights& w = m->w_;
  // The conv weight [E, 3, p, p] is read as the matrix [E, 3*p*p] that multiplies im2col's rows.
  const WeightRef conv = need(f, "v.patch_embd.weight", {E, 3, p, p}, Role::Matrix);
  w.patch_w = WeightRef{conv.name, conv.dtype, {E, 3 * p * p}, conv.data};
  w.patch_b = need(f, "v.patch_embd.bias", {E}, Role::Vector);
  w.pos = need(f, "v.position_embd.weight", {hp.n_patches(), E}, Role::Vector);
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const std::string b = fmt::format("v.blk.{}.", il);
    auto vec = [&](const char* n, int64_t len) { return need(f, b + n, {len}, Role::Vector); };
    auto mat = [&](const char* n, int64_t rows, int64_t cols) {
      return need(f, b + n, {rows, cols}, Role::Matrix);
    };
    VitLayerWeights L;
    L.ln1_w = vec("ln1.weight", E);
    L.ln1_b = vec("ln1.bias", E);
    L.wq = mat("attn_q.weight", E, E);
    L.bq = vec("attn_q.bias", E);
    L.wk = mat("attn_k.weight", E, E);
    L.bk = vec("attn_k.bias", E);
    L.wv = mat("attn_v.weight", E, E);
    L.bv = vec("attn_v.bias", E);
    L.wo = mat("attn_out.weight", E, E);
    L.bo = vec("attn_out.bias", E);
    L.ln2_w = vec("ln2.weight", E);
    L.ln2_b = vec("ln2.bias", E);
    L.up_w = mat("ffn_up.weight", F, E);
    L.up_b = vec("ffn_up.bias", F);
    L.down_w = mat("ffn_down.weight", E, F);
    L.down_b = vec("ffn_down.bias", E);
    w.layers.push_back(std::move(L));
  }
  w.post_ln_w = need(f, "v.post_ln.weight", {E}, Role::Vector);
  w.post_ln_b = need(f, "v.post_ln.bias", {E}, Role::Vector);
  const int64_t H = hp.proj_dim;
  w.proj.norm_w = need(f, "mm.model.mlp.0.weight", {M}, Role::Vector);
  w.proj.norm_b = need(f, "mm.model.mlp.0.bias", {M}, Role::Vector);
  w.proj.fc1_w = need(f, "mm.model.mlp.1.weight", {H, M}, Role::Matrix);
  w.proj.fc1_b = need(f, "mm.model.mlp.1.bias", {H}, Role::Vector);
  w.proj.fc2_w = need(f, "mm.model.mlp.3.weight", {H, H}, Role::Matrix);
  w.proj.fc2_b = need(f, "mm.model.mlp.3.bias", {H}, Role::Vector);

  log(LogLevel::Info, "vision",
      "{}: ViT {} blocks, hidden {}, {} heads, FFN {}, {}x{} tiles of {}-px patches, "
      "{} tokens per tile ({} order) projected to {}, {:.2f} GB of weights",
      path, hp.n_layer, E, hp.n_head, F, hp.image_size, hp.image_size, p, hp.tokens_per_tile(),
      hp.column_major ? "column-major" : "row-major", H, m->weight_bytes() / 1e9);
  return m;
}

std::vector<const WeightRef*> VitModel::all_weights() const {
  std::vector<const WeightRef*> v{&w_.patch_w, &w_.patch_b, &w_.pos, &w_.post_ln_w, &w_.post_ln_b};
  for (const VitLayerWeights& L : w_.layers)
    for (const WeightRef* r : {&L.ln1_w, &L.ln1_b, &L.wq, &L.bq, &L.wk, &L.bk, &L.wv, &L.bv, &L.wo, &L.bo,
                               &L.ln2_w, &L.ln2_b, &L.up_w, &L.up_b, &L.down_w, &L.down_b})
      v.push_back(r);
  const ProjectorWeights& P = w_.proj;
  for (const WeightRef* r : {&P.norm_w, &P.norm_b, &P.fc1_w, &P.fc1_b, &P.fc2_w, &P.fc2_b}) v.push_back(r);
  return v;
}

size_t VitModel::weight_bytes() const {
  size_t total = 0;
  for (const WeightRef* r : all_weights()) total += dtype_bytes(r->dtype, r->shape.numel());
  return total;
}

TileOptions VitModel::tile_options() const {
  return TileOptions{.tile = static_cast<int>(hp_.image_size), .mean = mean_, .stddev = std_};
}

GridOptions VitModel::grid_options() const {
  return GridOptions{
      .tile = static_cast<int>(hp_.image_size), .max_grid = max_grid_, .max_tiles = max_tiles_};
}

}  // namespace bluecl
