// VisionEncoder and the token-embedding helper (contract in host/session/vision.h).
#include "host/session/vision.h"

#include "graph/base/error.h"
#include "graph/base/log.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "host/runtime/trace.h"

namespace bluecl {

// The graph for one batch size, scheduled and ready to replay.
struct VisionEncoder::Step {
  std::unique_ptr<VitGraph> vg;
  Plan plan;
  std::unique_ptr<Executor> ex;
};

VisionEncoder::VisionEncoder(const VitModel& model, Devices& devices, const VisionParams& params)
    : model_(model), devices_(devices), batch_(params.batch), pipeline_(params.pipeline) {
  if (batch_ < 1 || batch_ > 64)
    fail(Status::InvalidArgument, "vision batch size {} is outside 1..64", batch_);
}

VisionEncoder::~VisionEncoder() = default;

VisionEncoder::Step& VisionEncoder::step_for(int64_t n_tiles, bool project, VitPart part) {
  auto& slot = steps_[{n_tiles, project, part}];
  if (slot) return *slot;
  auto s = std::make_unique<Step>();
  s->vg = build_vit_graph(model_.hparams(), model_.weights(),
                          {.n_tiles = n_tiles, .project = project, .part = part});
  // The patch-embedding stage of pipelined encoding runs on the CPU (the paper's split).
  std::vector<Pin> pins;
  if (part == VitPart::PatchEmbed) pins.push_back({"v.*", "cpu"});
  Devices::Prepared p = devices_.prepare(s->vg->g, {.pins = pins});
  s->plan = std::move(p.plan);
  s->ex = std::move(p.ex);
  log(LogLevel::Debug, "vision", "graph for {} tiles{}: {} nodes, {} transfers", n_tiles,
      project ? "" : " (ViT only)", s->vg->g.nodes().size(), s->plan.n_transfers);
  slot = std::move(s);
  return *slot;
}

bool VisionEncoder::pipelined() {
  switch (pipeline_) {
    case VisionPipeline::On:
      return true;
    case VisionPipeline::Off:
    case VisionPipeline::Serial:
      return false;
    case VisionPipeline::Auto:
      break;
  }
  const Step& b = step_for(batch_, true, VitPart::Blocks);
  const bool off_cpu =
      std::any_of(b.plan.nodes.begin(), b.plan.nodes.end(), [](const Placement& p) { return p.device != 0; });
  pipeline_ = off_cpu ? VisionPipeline::On : VisionPipeline::Off;
  log(LogLevel::Info, "vision", "tile batches {}",
      off_cpu ? "pipelined: patch embedding on the CPU, blocks on the device"
              : "run whole (the blocks run on the CPU)");
  return off_cpu;
}

int64_t VisionEncoder::n_tiles(std::span<const float> tiles) const {
  const VitHParams& hp = model_.hparams();
  const auto per = static_cast<size_t>(hp.tile_floats());
  if (tiles.empty() || tiles.size() % per != 0)
    fail(Status::InvalidArgument, "{} floats is not a whole number of {}x{} RGB tiles ({} floats each)",
         tiles.size(), hp.image_size, hp.image_size, per);
  return static_cast<int64_t>(tiles.size() / per);
}

std::string VisionEncoder::device_track() {
  for (const Placement& p : step_for(batch_, true, VitPart::Blocks).plan.nodes)
    if (p.device != 0)
      return devices_.backends()[p.device]->name().substr(0, devices_.backends()[p.device]->name().find(' '));
  return "cpu";
}

void VisionEncoder::run(int64_t n, const TileSource& source, bool project, float* out, int64_t per_tile,
                        const std::function<void(int64_t)>& progress) {
  if (pipelined() || pipeline_ == VisionPipeline::Serial) {
    run_split(n, source, project, out, per_tile, progress, pipeline_ == VisionPipeline::On);
    return;
  }
  const int64_t tile_floats = model_.hparams().tile_floats();
  std::vector<float> tiles;
  for (int64_t first = 0; first < n; first += batch_) {
    const int64_t count = std::min(batch_, n - first);
    const int64_t k = first / batch_;
    {
      TraceSpan t(fmt::format("tiles {}", k), "cpu: tiles");
      tiles.resize(count * tile_floats);
      source(first, count, tiles.data());
    }
    TraceSpan t(fmt::format("vision tower {}", k), "vision tower");
    Step& s = step_for(count, project, VitPart::Whole);
    s.ex->set_input(s.vg->tiles, tiles.data(), tiles.size() * sizeof(float));
    s.ex->run(bluecl::Step{});
    s.ex->read(s.vg->output(), out + first * per_tile, count * per_tile * sizeof(float));
    if (progress) progress(first + count);
  }
}

namespace {

// produce(k) on a worker thread and consume(k) on this one, for k in [0, n): produce runs at most two
// batches ahead (two slots) and consume(k) waits for produce(k). An exception on either side stops
// both; the consumer's is rethrown first.
void run_two_slots(int64_t n, const std::function<void(int64_t)>& produce,
                   const std::function<void(int64_t)>& consume) {
  std::mutex mu;
  std::condition_variable cv;
  int64_t produced = 0, consumed = 0;
  std::exception_ptr producer_error;
  bool stop = false;
  std::thread worker([&] {
    try {
      for (int64_t k = 0; k < n; ++k) {
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return stop || k - consumed < 2; });
          if (stop) return;
        }
        produce(k);
        std::lock_guard lock(mu);
        produced = k + 1;
        cv.notify_all();
      }
    } catch (...) {
      std::lock_guard lock(mu);
      producer_error = std::current_exception();
      cv.notify_all();
    }
  });
  std::exception_ptr consumer_error;
  try {
    for (int64_t k = 0; k < n; ++k) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return producer_error || produced > k; });
        if (producer_error) break;
      }
      consume(k);
      std::lock_guard lock(mu);
      consumed = k + 1;
      cv.notify_all();
    }
  } catch (...) {
    consumer_error = std::current_exception();
  }
  {
    std::lock_guard lock(mu);
    stop = true;
    cv.notify_all();
  }
  worker.join();
  if (consumer_error) std::rethrow_exception(consumer_error);
  if (producer_error) std::rethrow_exception(producer_error);
}

}  // namespace

void VisionEncoder::run_split(int64_t n, const TileSource& source, bool project, float* out, int64_t per_tile,
                              const std::function<void(int64_t)>& progress, bool overlap) {
  const VitHParams& hp = model_.hparams();
  const int64_t n_batches = (n + batch_ - 1) / batch_;
  // Every graph either stage needs is built here, on this thread, before any runs.
  for (int64_t count : {std::min(batch_, n), n % batch_})
    if (count > 0) step_for(count, project, VitPart::PatchEmbed), step_for(count, project, VitPart::Blocks);
  const std::string dev = device_track();

  struct Slot {
    int64_t first = 0, count = 0;
    std::vector<float> tiles, embd;
  };
  Slot slots[2];
  auto stage_cpu = [&](int64_t k, Slot& s) {  // tiles, then the patch embedding, on the CPU
    s.first = k * batch_;
    s.count = std::min(batch_, n - s.first);
    {
      TraceSpan t(fmt::format("tiles {}", k), "cpu: tiles");
      s.tiles.resize(s.count * hp.tile_floats());
      source(s.first, s.count, s.tiles.data());
    }
    TraceSpan t(fmt::format("patch embedding {}", k), "cpu: patch embedding");
    Step& a = step_for(s.count, project, VitPart::PatchEmbed);
    a.ex->set_input(a.vg->tiles, s.tiles.data(), s.tiles.size() * sizeof(float));
    a.ex->run(bluecl::Step{});
    s.embd.resize(s.count * hp.n_patches() * hp.n_embd);
    a.ex->read(a.vg->embd, s.embd.data(), s.embd.size() * sizeof(float));
  };
  auto stage_device = [&](int64_t k, const Slot& s) {  // the blocks (and projector) where they are placed
    TraceSpan t(fmt::format("vit blocks {}", k), dev + ": vit blocks");
    Step& b = step_for(s.count, project, VitPart::Blocks);
    b.ex->set_input(b.vg->tiles, s.embd.data(), s.embd.size() * sizeof(float));
    b.ex->run(bluecl::Step{});
    b.ex->read(b.vg->output(), out + s.first * per_tile, s.count * per_tile * sizeof(float));
  };

  if (!overlap) {
    for (int64_t k = 0; k < n_batches; ++k) {
      stage_cpu(k, slots[0]);
      stage_device(k, slots[0]);
      if (progress) progress(slots[0].first + slots[0].count);
    }
    return;
  }
  // Two slots: the CPU fills slot (k+1)%2 while the device empties slot k%2.
  run_two_slots(
      n_batches, [&](int64_t k) { stage_cpu(k, slots[k % 2]); },
      [&](int64_t k) {
        stage_device(k, slots[k % 2]);
        if (progress) progress(slots[k % 2].first + slots[k % 2].count);
      });
}

void VisionEncoder::encode(int64_t n, const TileSource& source, float* out,
                           const std::function<void(int64_t)>& progress) {
  if (n < 1) fail(Status::InvalidArgument, "no tiles to encode");
  const VitHParams& hp = model_.hparams();
  run(n, source, true, out, hp.tokens_per_tile() * hp.proj_dim, progress);
}

void VisionEncoder::encode(std::span<const float> tiles, std::span<float> out) {
  const VitHParams& hp = model_.hparams();
  const int64_t per_tile = hp.tokens_per_tile() * hp.proj_dim;
  const int64_t n = n_tiles(tiles);
  if (static_cast<int64_t>(out.size()) != n * per_tile)
    fail(Status::InvalidArgument, "output of {} floats for {} tiles of {} tokens x {}", out.size(), n,
         hp.tokens_per_tile(), hp.proj_dim);
  const int64_t tf = hp.tile_floats();
  run(
      n,
      [&](int64_t first, int64_t count, float* dst) {
        std::copy_n(tiles.data() + first * tf, count * tf, dst);
      },
      true, out.data(), per_tile, nullptr);
}

std::vector<float> VisionEncoder::encode(std::span<const float> tiles) {
  const VitHParams& hp = model_.hparams();
  std::vector<float> out(n_tiles(tiles) * hp.tokens_per_tile() * hp.proj_dim);
  encode(tiles, out);
  return out;
}

std::vector<float> VisionEncoder::encode_vit(std::span<const float> tiles) {
  const VitHParams& hp = model_.hparams();
  const int64_t per_tile = hp.n_patches() * hp.n_embd, tf = hp.tile_floats();
  std::vector<float> out(n_tiles(tiles) * per_tile);
  run(
      n_tiles(tiles),
      [&](int64_t first, int64_t count, float* dst) {
        std::copy_n(tiles.data() + first * tf, count * tf, dst);
      },
      false, out.data(), per_tile, nullptr);
  return out;
}

std::string VisionEncoder::plan_text(int64_t n_tiles) {
  if (n_tiles < 1 || n_tiles > 64)
    fail(Status::InvalidArgument, "batch of {} tiles is outside 1..64", n_tiles);
  std::string text;
  if (pipelined() || pipeline_ == VisionPipeline::Serial) {
    Step& a = step_for(n_tiles, true, VitPart::PatchEmbed);
    Step& b = step_for(n_tiles, true, VitPart::Blocks);
    text = "-- stage 1 (CPU, overlapped with the device's previous batch): patch embedding --\n" +
           format_plan(a.vg->g, a.plan, devices_.backends()) + "-- stage 2: blocks and projector --\n";
    return text + format_plan(b.vg->g, b.plan, devices_.backends());
  }
  Step& s = step_for(n_tiles, true, VitPart::Whole);
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
