// VisionEncoder and the token-embedding helper (contract in host/vision.h).
#include "host/vision.h"

#include "graph/error.h"
#include "graph/log.h"

#include <algorithm>

namespace bluecl {

// The graph for one batch size, scheduled and ready to replay.
struct VisionEncoder::Step {
  std::unique_ptr<VitGraph> vg;
  Plan plan;
  std::unique_ptr<Executor> ex;
};

VisionEncoder::VisionEncoder(const VitModel& model, Devices& devices, const VisionParams& params)
    : model_(model), devices_(devices), batch_(params.batch) {
  if (batch_ < 1 || batch_ > 64)
    fail(Status::InvalidArgument, "vision batch size {} is outside 1..64", batch_);
}

VisionEncoder::~VisionEncoder() = default;

VisionEncoder::Step& VisionEncoder::step_for(int64_t n_tiles, bool project) {
  auto& slot = steps_[{n_tiles, project}];
  if (slot) return *slot;
  auto s = std::make_unique<Step>();
  s->vg = build_vit_graph(model_.hparams(), model_.weights(), {.n_tiles = n_tiles, .project = project});
  Devices::Prepared p = devices_.prepare(s->vg->g, {});
  s->plan = std::move(p.plan);
  s->ex = std::move(p.ex);
  log(LogLevel::Debug, "vision", "graph for {} tiles{}: {} nodes, {} transfers", n_tiles,
      project ? "" : " (ViT only)", s->vg->g.nodes().size(), s->plan.n_transfers);
  slot = std::move(s);
  return *slot;
}

int64_t VisionEncoder::n_tiles(std::span<const float> tiles) const {
  const VitHParams& hp = model_.hparams();
  const auto per = static_cast<size_t>(hp.tile_floats());
  if (tiles.empty() || tiles.size() % per != 0)
    fail(Status::InvalidArgument, "{} floats is not a whole number of {}x{} RGB tiles ({} floats each)",
         tiles.size(), hp.image_size, hp.image_size, per);
  return static_cast<int64_t>(tiles.size() / per);
}

void VisionEncoder::run(std::span<const float> tiles, bool project, float* out, int64_t per_tile) {
  const int64_t n = n_tiles(tiles), tile_floats = model_.hparams().tile_floats();
  for (int64_t first = 0; first < n; first += batch_) {
    const int64_t count = std::min(batch_, n - first);
    Step& s = step_for(count, project);
    s.ex->set_input(s.vg->tiles, tiles.data() + first * tile_floats, count * tile_floats * sizeof(float));
    s.ex->run(bluecl::Step{});
    s.ex->read(s.vg->output(), out + first * per_tile, count * per_tile * sizeof(float));
  }
}

void VisionEncoder::encode(std::span<const float> tiles, std::span<float> out) {
  const VitHParams& hp = model_.hparams();
  const int64_t per_tile = hp.tokens_per_tile() * hp.proj_dim;
  const int64_t n = n_tiles(tiles);
  if (static_cast<int64_t>(out.size()) != n * per_tile)
    fail(Status::InvalidArgument, "output of {} floats for {} tiles of {} tokens x {}", out.size(), n,
         hp.tokens_per_tile(), hp.proj_dim);
  run(tiles, true, out.data(), per_tile);
}

std::vector<float> VisionEncoder::encode(std::span<const float> tiles) {
  const VitHParams& hp = model_.hparams();
  std::vector<float> out(n_tiles(tiles) * hp.tokens_per_tile() * hp.proj_dim);
  encode(tiles, out);
  return out;
}

std::vector<float> VisionEncoder::encode_vit(std::span<const float> tiles) {
  const VitHParams& hp = model_.hparams();
  const int64_t per_tile = hp.n_patches() * hp.n_embd;
  std::vector<float> out(n_tiles(tiles) * per_tile);
  run(tiles, false, out.data(), per_tile);
  return out;
}

std::string VisionEncoder::plan_text(int64_t n_tiles) {
  if (n_tiles < 1 || n_tiles > 64)
    fail(Status::InvalidArgument, "batch of {} tiles is outside 1..64", n_tiles);
  Step& s = step_for(n_tiles, true);
  return format_plan(s.vg->g, s.plan, devices_.backends());
}

void VisionEncoder::release_weights() {
  for (const WeightRef* w : model_.all_weights()) devices_.release_weight(w->data);
  // Executors hold resolved references to the released copies; rebuild on the next encode.
  steps_.clear();
}

std::vector<float> token_embeddings(const LlmModel& llm, std::span<const int32_t> ids) {
  const WeightRef& t = llm.weights().tok_embd;
  const int64_t n_vocab = t.shape[0], n_embd = t.shape[1];
  const size_t row = dtype_bytes(t.dtype, n_embd);
  std::vector<float> out(ids.size() * n_embd);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= n_vocab)
      fail(Status::InvalidArgument, "token id {} is outside the vocabulary (0..{})", ids[i], n_vocab - 1);
    dequantize_row(t.dtype, static_cast<const uint8_t*>(t.data) + ids[i] * row, out.data() + i * n_embd,
                   n_embd);
  }
  return out;
}

}  // namespace bluecl
