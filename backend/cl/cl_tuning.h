// Launch choices found by the auto-tuner (`bluecl tune`, host/runtime/tune.cpp): for each hot kernel and
// shape class a variant and integer launch parameters (work-group size, outputs per work-item, ...). Ops ask
// for their key and fall back to their built-in defaults where nothing was tuned.
//
// Kept per device and driver beside the program cache: <cache dir>/tune-<hash>.txt, one line per key,
//   <key> <variant> [<param>=<int> ...]
// e.g. "matmul/q4_0/gemv rows items=8". A file that does not parse is ignored with a warning.
// BLUECL_TUNING=off ignores the file (the built-in defaults).
#pragma once

#include "backend/cl/cl_device.h"
#include "graph/dtype.h"

#include <map>
#include <string>
#include <string_view>

namespace bluecl {

// The keys ops look up: "matmul/<weight type>/gemv" (up to 4 rows of x) or ".../gemm";
// "rms_norm" and "layer_norm".
std::string matmul_tuning_key(DType weight, int64_t rows);

struct ClLaunch {
  std::string variant;
  std::map<std::string, int> params;
  int get(const std::string& name, int fallback) const {
    auto it = params.find(name);
    return it == params.end() ? fallback : it->second;
  }
  std::string str() const;  // "rows items=8"
};

class ClTuning {
 public:
  // The tuning file of a device (empty when the cache is disabled).
  static std::string path_for(const DeviceFeatures& f);
  // Reads `path`; false (and nothing kept) when it is missing; a malformed file is ignored with a warning.
  bool load(const std::string& path);
  void save(const std::string& path) const;  // atomic: write a temporary, then rename

  const ClLaunch* find(std::string_view key) const;
  void set(std::string key, ClLaunch launch) { choices_[std::move(key)] = std::move(launch); }
  void erase(const std::string& key) { choices_.erase(key); }
  const std::map<std::string, ClLaunch, std::less<>>& choices() const { return choices_; }

 private:
  std::map<std::string, ClLaunch, std::less<>> choices_;
};

}  // namespace bluecl
