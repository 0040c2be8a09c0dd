// The OpenCL auto-tuner behind `bluecl tune` and bluecl_tune(): for each hot kernel (matmul per weight
// type for one token and for many, rms_norm, layer_norm) it runs every candidate launch (variant,
// work-group size, outputs per work-item, tile shape) at the model's shapes on the device, rejects those
// whose result differs from the CPU reference, keeps the fastest, and writes the choices to the device's
// tuning file (ClTuning), which every later ClBackend on that device and driver reads.
#pragma once

#include "backend/cl/cl_backend.h"
#include "backend/cl/cl_tuning.h"

#include <functional>
#include <string>
#include <vector>

namespace bluecl {

// One op at one shape: a matmul x[rows, k] @ W[n, k]^T with W of type `w`, or a norm of rows x n.
struct TuneShape {
  enum class Op : uint8_t { Matmul, RmsNorm, LayerNorm } op = Op::Matmul;
  DType w = DType::F32;
  int64_t rows = 1, k = 0, n = 0;
  ClTuningKey key() const;  // the tuning key it belongs to
};

// The shapes of a model's matrices (every distinct weight of block 0 and the output head, for one token
// and for a prefill chunk of `chunk` rows) and of a vision tower's (at one tile's patches).
// Empty paths: the full-size bluelm-v-3b preset's shapes.
std::vector<TuneShape> tune_shapes(const std::string& model, const std::string& mmproj, int64_t chunk = 128);
std::vector<TuneShape> tune_shapes_quick();  // small shapes for tests

struct TuneCandidate {
  ClLaunch launch;  // variant Default is the op's built-in default
  double ms = 0;    // summed over the key's shapes (median of repetitions each)
  bool ok = true;
  std::string why;  // why it was rejected
};

struct TuneResult {
  ClTuningKey key;
  ClLaunch best;  // variant Default: the built-in default stayed fastest
  double default_ms = 0, best_ms = 0;
  std::vector<TuneCandidate> tried;
};

struct TuneOptions {
  bool quick = false;  // fewer candidates and repetitions
  int n_threads = 0;   // for the CPU reference
  std::function<void(const std::string& stage, double fraction)> progress;
};

// Candidate launches for a key on a device.
std::vector<ClLaunch> tune_candidates(ClTuningKey key, const DeviceFeatures& f, bool quick);

// Tunes every key of `shapes` on `cl` (which must have profiling on). Leaves the winners in
// cl.runtime().tuning (the caller saves them).
std::vector<TuneResult> tune(ClBackend& cl, const std::vector<TuneShape>& shapes, const TuneOptions& opts);

}  // namespace bluecl
