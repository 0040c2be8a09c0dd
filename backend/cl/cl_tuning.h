// Launch choices found by the auto-tuner (`bluecl tune`, host/runtime/tune.cpp): for each hot kernel and
// shape class a variant and integer launch parameters (work-group size, outputs per work-item, ...). Ops ask
// for their key and fall back to their built-in defaults where nothing was tuned.
//
// Everything here is typed: a key is a kernel family and a weight type, a variant an enum, the parameters
// named fields, so a launch looks its choice up by index and a misspelt parameter does not compile. Only
// the file is text. It is kept per device and driver beside the program cache,
// <cache dir>/tune-<hash>.txt, one line per key,
//   <key> <variant> [<param>=<int> ...]
// e.g. "matmul/q4_0/gemv rows items=8". A file that does not parse (an unknown key, variant or parameter
// name, a variant of another kernel, a bad value) is ignored with a warning that names the problem.
// BLUECL_TUNING=off ignores the file (the built-in defaults).
#pragma once

#include "backend/cl/cl_device.h"
#include "graph/dtype.h"

#include <array>
#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bluecl {

// The kernel variants of the ops that have several (see each launcher's header comment). Default: none
// chosen (the op's built-in choice).
#define BLUECL_CL_VARIANTS(X) \
  X(Rows, "rows")             \
  X(Vec, "vec")               \
  X(VecSg, "vec_sg")          \
  X(VecH, "vec_h")            \
  X(Gemv, "gemv")             \
  X(Tile, "tile")             \
  X(TileH, "tile_h")          \
  X(TileDot, "tile_dot")      \
  X(Tiled, "tiled")           \
  X(Cols, "cols")             \
  X(Row, "row")               \
  X(Wg, "wg")                 \
  X(Stream, "stream")         \
  X(Flash, "flash")           \
  X(Split, "split")
enum class ClVariant : uint8_t {
  Default,
#define BLUECL_X(id, text) id,
  BLUECL_CL_VARIANTS(BLUECL_X)
#undef BLUECL_X
};
std::string_view variant_name(ClVariant v);  // "" for Default
std::optional<ClVariant> parse_variant(std::string_view text);

// What a tuned launch is for: a matmul with weights of one type for up to 4 rows of x (gemv, decode) or
// more (gemm), rms_norm or layer_norm. Text form: "matmul/<weight type>/gemv", ".../gemm", "rms_norm",
// "layer_norm".
struct ClTuningKey {
  enum class Kernel : uint8_t { MatmulGemv, MatmulGemm, RmsNorm, LayerNorm } kernel = Kernel::RmsNorm;
  DType weight = DType::F32;  // matmuls only

  static constexpr ClTuningKey matmul(DType w, int64_t rows) {
    return {rows > 4 ? Kernel::MatmulGemm : Kernel::MatmulGemv, w};
  }
  static constexpr ClTuningKey rms_norm() { return {Kernel::RmsNorm, DType::F32}; }
  static constexpr ClTuningKey layer_norm() { return {Kernel::LayerNorm, DType::F32}; }
  bool is_matmul() const { return kernel == Kernel::MatmulGemv || kernel == Kernel::MatmulGemm; }
  // The key's slot in ClTuning's table.
  size_t index() const {
    return is_matmul() ? static_cast<size_t>(kernel) * kNumDTypes + static_cast<size_t>(weight)
                       : 2 * kNumDTypes + static_cast<size_t>(kernel) - 2;
  }
  static constexpr size_t kCount = 2 * kNumDTypes + 2;
  // Whether `v` is a variant of this key's kernel.
  bool accepts(ClVariant v) const;
  std::string str() const;
  static std::optional<ClTuningKey> parse(std::string_view text);
  auto operator<=>(const ClTuningKey&) const = default;
};

// Integer launch parameters; unset: the launcher's default. Which ones a variant reads is listed in its
// launcher (backend/cl/ops/matmul.cpp, rms_norm.cpp, layer_norm.cpp).
struct ClLaunchParams {
  std::optional<int> items, lanes, rows, tm, tn, wg, bm, bn;
  bool operator==(const ClLaunchParams&) const = default;
};

struct ClLaunch {
  ClVariant variant = ClVariant::Default;
  ClLaunchParams p;
  std::string str() const;  // "rows items=8"
  bool operator==(const ClLaunch&) const = default;
};

// The parameter names of the file, each with its field.
struct ClLaunchParamName {
  std::string_view name;
  std::optional<int> ClLaunchParams::*field;
};
extern const std::array<ClLaunchParamName, 8> kClLaunchParamNames;

class ClTuning {
 public:
  // The tuning file of a device (empty when the cache is disabled).
  static std::string path_for(const DeviceFeatures& f);
  // Reads `path`; false (and nothing kept) when it is missing, or when it does not parse (with a warning
  // that names the line and what is wrong).
  bool load(const std::string& path);
  void save(const std::string& path) const;  // atomic: write a temporary, then rename

  const ClLaunch* find(ClTuningKey key) const {
    const auto& s = slots_[key.index()];
    return s ? &*s : nullptr;
  }
  void set(ClTuningKey key, ClLaunch launch) { slots_[key.index()] = std::move(launch); }
  void erase(ClTuningKey key) { slots_[key.index()].reset(); }
  bool empty() const { return size() == 0; }
  size_t size() const;
  // Every choice, in key order.
  std::vector<std::pair<ClTuningKey, ClLaunch>> choices() const;

 private:
  std::array<std::optional<ClLaunch>, ClTuningKey::kCount> slots_{};
};

}  // namespace bluecl
