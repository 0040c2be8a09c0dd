#include "host/runtime/tune.h"

#include "backend/cl/cl_runtime.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/op_runner.h"
#include "graph/base/error.h"
#include "graph/base/log.h"
#include "host/gguf/gguf.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace bluecl {

namespace {

constexpr double kMaxNmse = 1e-8;  // fp32 kernels against the fp32 reference: summation order only

void add_unique(std::vector<TuneShape>& v, const TuneShape& s) {
  auto same = [&](const TuneShape& o) {
    return std::tie(o.op, o.w, o.rows, o.k, o.n) == std::tie(s.op, s.w, s.rows, s.k, s.n);
  };
  if (std::none_of(v.begin(), v.end(), same)) v.push_back(s);
}

std::vector<TuneShape> preset_shapes(int64_t chunk) {
  std::vector<TuneShape> v;
  const int64_t llm[][2] = {{2560, 2560}, {2560, 6912}, {6912, 2560}, {2560, 32000}};
  for (int64_t rows : {int64_t{1}, chunk})
    for (const auto& kn : llm) v.push_back({TuneShape::Op::Matmul, DType::Q4_0, rows, kn[0], kn[1]});
  v.push_back({TuneShape::Op::RmsNorm, DType::F32, 1, 0, 2560});
  v.push_back({TuneShape::Op::RmsNorm, DType::F32, chunk, 0, 2560});
  // SigLIP-400M at one 384x384 tile: 729 patches, hidden 1152, FFN 4304 (Q8_0; FFN-down F16).
  v.push_back({TuneShape::Op::Matmul, DType::Q8_0, 729, 1152, 1152});
  v.push_back({TuneShape::Op::Matmul, DType::Q8_0, 729, 1152, 4304});
  v.push_back({TuneShape::Op::Matmul, DType::F16, 729, 4304, 1152});
  v.push_back({TuneShape::Op::LayerNorm, DType::F32, 729, 0, 1152});
  return v;
}

// Every rank-2 weight whose name starts with one of `prefixes`, as a matmul of `rows` rows.
void add_matrices(std::vector<TuneShape>& v, const GgufFile& f, const std::vector<std::string>& prefixes,
                  const std::vector<int64_t>& rows) {
  for (const GgufTensor& t : f.tensors()) {
    if (t.shape.rank != 2 || !t.dtype || t.name.find("embd") != std::string::npos) continue;
    if (std::none_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return t.name.rfind(p, 0) == 0; }))
      continue;
    for (int64_t r : rows) add_unique(v, {TuneShape::Op::Matmul, *t.dtype, r, t.shape[1], t.shape[0]});
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

ClTuningKey TuneShape::key() const {
  switch (op) {
    case Op::Matmul:
      return ClTuningKey::matmul(w, rows);
    case Op::RmsNorm:
      return ClTuningKey::rms_norm();
    case Op::LayerNorm:
      return ClTuningKey::layer_norm();
  }
  return {};
}

std::vector<TuneShape> tune_shapes(const std::string& model, const std::string& mmproj, int64_t chunk) {
  if (model.empty() && mmproj.empty()) return preset_shapes(chunk);
  std::vector<TuneShape> v;
  if (!model.empty()) {
    const auto f = GgufFile::open(model);
    std::vector<std::string> prefixes = {"blk.0.", "output.weight"};
    add_matrices(v, *f, prefixes, {1, chunk});
    if (!f->find_tensor("output.weight"))  // tied output head: the embedding table is the matrix
      if (const GgufTensor* t = f->find_tensor("token_embd.weight"); t && t->dtype && t->shape.rank == 2)
        for (int64_t r : {int64_t{1}, chunk})
          add_unique(v, {TuneShape::Op::Matmul, *t->dtype, r, t->shape[1], t->shape[0]});
    if (const GgufTensor* t = f->find_tensor("blk.0.attn_norm.weight"))
      for (int64_t r : {int64_t{1}, chunk})
        add_unique(v, {TuneShape::Op::RmsNorm, DType::F32, r, 0, t->shape.last()});
  }
  if (!mmproj.empty()) {
    const auto f = GgufFile::open(mmproj);
    const int64_t image = f->get_int("clip.vision.image_size").value_or(384);
    const int64_t patch = std::max<int64_t>(1, f->get_int("clip.vision.patch_size").value_or(14));
    const int64_t side = image / patch, patches = side * side, merged = ((side + 1) / 2) * ((side + 1) / 2);
    add_matrices(v, *f, {"v.blk.0."}, {patches});
    add_matrices(v, *f, {"mm."}, {merged});
    if (const GgufTensor* t = f->find_tensor("v.blk.0.ln1.weight"))
      add_unique(v, {TuneShape::Op::LayerNorm, DType::F32, patches, 0, t->shape.last()});
  }
  if (v.empty()) fail(Status::BadFile, "no matrices to tune in {}", model.empty() ? mmproj : model);
  return v;
}

std::vector<TuneShape> tune_shapes_quick() {
  std::vector<TuneShape> v;
  for (DType w : {DType::Q4_0, DType::Q8_0, DType::F32})
    for (int64_t rows : {1, 37}) v.push_back({TuneShape::Op::Matmul, w, rows, 256, 96});
  v.push_back({TuneShape::Op::RmsNorm, DType::F32, 5, 0, 300});
  v.push_back({TuneShape::Op::LayerNorm, DType::F32, 9, 0, 200});
  return v;
}

std::vector<ClLaunch> tune_candidates(ClTuningKey key, const DeviceFeatures& f, bool quick) {
  const size_t max_wg = std::max<size_t>(1, f.max_work_group_size);
  std::vector<ClLaunch> c;
  auto wgs = [&](std::vector<int> want) {
    std::vector<int> out;
    for (int w : want)
      if (static_cast<size_t>(w) <= max_wg) out.push_back(w);
    return out;
  };
  using V = ClVariant;
  if (!key.is_matmul()) {
    c.push_back({V::Row, {}});
    for (int wg : wgs(quick ? std::vector<int>{64} : std::vector<int>{32, 64, 128, 256}))
      c.push_back({V::Wg, {.wg = wg}});
    return c;
  }
  const bool gemm = key.kernel == ClTuningKey::Kernel::MatmulGemm;
  const bool quant = key.weight == DType::Q4_0 || key.weight == DType::Q8_0;
  if (!gemm) {
    if (quant)
      for (int items : quick ? std::vector<int>{1, 4} : std::vector<int>{1, 2, 4, 8, 16})
        c.push_back({V::Rows, {.items = items}});
    for (int tn : quick ? std::vector<int>{2, 4} : std::vector<int>{1, 2, 4, 8})
      for (int wg : wgs(quick ? std::vector<int>{16} : std::vector<int>{16, 32, 64}))
        c.push_back({V::Gemv, {.tn = tn, .wg = wg}});
    // GPU-style GEMV: lanes per row x rows per work-group; subgroup reduction where a size can be required.
    for (int lanes : quick ? std::vector<int>{32} : std::vector<int>{16, 32, 64})
      for (int rows : quick ? std::vector<int>{2} : std::vector<int>{1, 2, 4})
        if (static_cast<size_t>(lanes * rows) <= max_wg)
          c.push_back({V::Vec, {.lanes = lanes, .rows = rows}});
    for (size_t sg : f.required_subgroup_sizes)
      for (int rows : quick ? std::vector<int>{2} : std::vector<int>{1, 2, 4, 8})
        if (sg >= 8 && sg * rows <= max_wg)
          c.push_back({V::VecSg, {.lanes = static_cast<int>(sg), .rows = rows}});
    return c;
  }
  // GPU-style GEMM: output tile bm x bn per work-group, tm x tn per work-item, local-memory tiles of 32 k.
  struct Tile {
    int bm, bn, tm, tn;
  };
  const std::vector<Tile> tiles = quick ? std::vector<Tile>{{64, 64, 4, 4}}
                                        : std::vector<Tile>{{32, 64, 4, 4}, {64, 64, 4, 4},  {64, 64, 8, 4},
                                                            {32, 32, 2, 2}, {64, 128, 4, 8}, {128, 64, 8, 4}};
  for (const Tile& t : tiles) {
    const size_t items = static_cast<size_t>(t.bm / t.tm) * (t.bn / t.tn);
    const size_t local = static_cast<size_t>(t.bm + t.bn) * 32 * sizeof(float);
    if (items <= max_wg && local <= f.local_mem_bytes)
      c.push_back({V::Tile, {.tm = t.tm, .tn = t.tn, .bm = t.bm, .bn = t.bn}});
  }
  for (int tm : quick ? std::vector<int>{16} : std::vector<int>{8, 16})
    for (int wg : wgs(quick ? std::vector<int>{16} : std::vector<int>{16, 32}))
      c.push_back({V::Cols, {.tm = tm, .wg = wg}});
  for (int tm : quick ? std::vector<int>{2, 4} : std::vector<int>{2, 4, 8})
    for (int tn : quick ? std::vector<int>{4} : std::vector<int>{2, 4, 8}) {
      if (tm * tn > 32) continue;  // the accumulators stop fitting in registers
      for (int wg : wgs(quick ? std::vector<int>{16} : std::vector<int>{8, 16, 32}))
        c.push_back({V::Tiled, {.tm = tm, .tn = tn, .wg = wg}});
    }
  return c;
}

namespace {

// The one-op graph a shape is tuned on.
void build_tune_op(OpBuilder& b, const TuneShape& s) {
  switch (s.op) {
    case TuneShape::Op::Matmul:
      b.g.matmul(b.input("x", {s.rows, s.k}), b.weight("w", s.w, {s.n, s.k}, -0.05f, 0.05f));
      break;
    case TuneShape::Op::RmsNorm:
      b.g.rms_norm(b.input("x", {s.rows, s.n}), b.input("w", {s.n}), 1e-6f);
      break;
    case TuneShape::Op::LayerNorm:
      b.g.layer_norm(b.input("x", {s.rows, s.n}), b.input("w", {s.n}), b.input("b", {s.n}), 1e-6f);
      break;
  }
}

// The median device time of one run of p in seconds (event profiling), over at least a few repetitions
// and up to 0.2 s of them.
double median_run_seconds(ClRuntime& rt, ClBackend& cl, PreparedOp& p, bool quick) {
  std::vector<double> times;
  double spent = 0;
  const int min_reps = quick ? 2 : 3, max_reps = quick ? 3 : 15;
  for (int r = 0; r < max_reps && (r < min_reps || spent < 0.2); ++r) {
    std::vector<cl::Event> events;
    rt.events = &events;
    p.run();
    cl.sync();
    rt.events = nullptr;
    double t = 0;
    for (cl::Event& ev : events)
      t += (ev.getProfilingInfo<CL_PROFILING_COMMAND_END>() -
            ev.getProfilingInfo<CL_PROFILING_COMMAND_START>()) *
           1e-9;
    times.push_back(t);
    spent += t;
  }
  return median(times);
}

// Runs candidate c of `key` on p: rejects it (c.ok false, c.why) when its result differs from the
// reference or the device refuses the launch, else adds its time to c.ms.
void try_candidate(ClBackend& cl, ClTuningKey key, PreparedOp& p, const OpRun& ref, bool quick,
                   TuneCandidate& c) {
  ClRuntime& rt = cl.runtime();
  if (c.launch.variant == ClVariant::Default)
    rt.tuning.erase(key);
  else
    rt.tuning.set(key, c.launch);
  try {
    p.run();
    cl.sync();
    const OpRun got = p.result();
    const double e = nmse(got.out.data(), ref.out.data(), static_cast<int64_t>(ref.out.size()));
    if (!got.guards_intact || got.non_finite > 0 || !(e <= kMaxNmse)) {
      c.ok = false;
      c.why = !got.guards_intact ? "wrote outside its output"
              : got.non_finite   ? "NaN/Inf in the output"
                                 : fmt::format("wrong result (NMSE {:.2g})", e);
      return;
    }
    c.ms += median_run_seconds(rt, cl, p, quick) * 1e3;
  } catch (const std::exception& ex) {  // a launch the device refuses (work-group size, resources)
    rt.events = nullptr;
    c.ok = false;
    c.why = ex.what();
  }
}

// The fastest correct candidate of `key`, left in the runtime's tuning table (nothing for the default).
TuneResult pick_best(ClRuntime& rt, ClTuningKey key, std::vector<TuneCandidate> cands) {
  const TuneCandidate* best = nullptr;
  for (const TuneCandidate& c : cands)
    if (c.ok && (!best || c.ms < best->ms)) best = &c;
  if (!best)
    fail(Status::Device, "tuning {}: no launch gave a correct result (default: {})", key.str(), cands[0].why);
  TuneResult res;
  res.key = key;
  res.default_ms = cands[0].ok ? cands[0].ms : 0;
  res.best = best->launch;
  res.best_ms = best->ms;
  if (best->launch.variant != ClVariant::Default) rt.tuning.set(key, best->launch);
  res.tried = std::move(cands);
  log(LogLevel::Info, "tune", "{}: {} {:.3f} ms (default {:.3f} ms)", key.str(),
      res.best.variant == ClVariant::Default ? "default" : res.best.str(), res.best_ms, res.default_ms);
  return res;
}

}  // namespace

std::vector<TuneResult> tune(ClBackend& cl, const std::vector<TuneShape>& shapes, const TuneOptions& opts) {
  ClRuntime& rt = cl.runtime();
  BLUECL_ASSERT(rt.profiling, "the tuner times kernels by event profiling");
  CpuBackend reference(opts.n_threads, CpuPrecision::Reference);
  std::map<ClTuningKey, std::vector<TuneShape>> by_key;
  for (const TuneShape& s : shapes) by_key[s.key()].push_back(s);

  size_t total = 0, done = 0;
  for (const auto& [key, v] : by_key)
    total += v.size() * (tune_candidates(key, rt.features, opts.quick).size() + 1);
  std::vector<TuneResult> results;
  for (const auto& [key, key_shapes] : by_key) {
    std::vector<TuneCandidate> cands{{ClLaunch{}, 0, true, {}}};  // first: the built-in default
    for (ClLaunch& l : tune_candidates(key, rt.features, opts.quick))
      cands.push_back({std::move(l), 0, true, {}});
    rt.tuning.erase(key);
    for (const TuneShape& s : key_shapes) {
      OpBuilder b(std::hash<std::string>{}(key.str()) + static_cast<uint64_t>(s.rows * 131 + s.k * 7 + s.n));
      build_tune_op(b, s);
      const OpRun ref = run_op(reference, b, Step{});
      PreparedOp p(cl, b, Step{});
      for (TuneCandidate& c : cands) {
        if (opts.progress)
          opts.progress(fmt::format("tuning {} at {}x{}x{}", key.str(), s.rows, s.k, s.n),
                        double(done) / total);
        ++done;
        if (c.ok) try_candidate(cl, key, p, ref, opts.quick, c);
      }
    }
    rt.tuning.erase(key);
    results.push_back(pick_best(rt, key, std::move(cands)));
  }
  if (opts.progress) opts.progress("tuning done", 1.0);
  return results;
}

}  // namespace bluecl
