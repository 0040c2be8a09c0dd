// Builds OpenCL programs from the embedded cl_kernels/*.cl lazily, keeps them in memory, and caches
// their binaries on disk keyed by a hash of source, options, device, driver and platform. A missing,
// stale or broken cache entry falls back to compiling from source (and is rewritten atomically).
//
// Cache directory: BLUECL_CACHE_DIR, else $XDG_CACHE_HOME/bluecl, else ~/.cache/bluecl;
// BLUECL_CACHE_DIR=none disables the disk cache. BLUECL_KERNEL_DIR=<dir> reads the .cl files from
// disk instead of the embedded copies (for kernel development); BLUECL_CL_OPTIONS adds build options.
#pragma once

#include "backend/cl/cl_device.h"
#include "cl_kernels/registry.h"
#include "graph/base/error.h"

#include <CL/opencl.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bluecl {

// The -D names kernels read; ClDefines holds them as ids so that a launch compares and hashes integers.
#define BLUECL_CL_DEFINES(X) \
  X(WTYPE)                   \
  X(NB)                      \
  X(MR)                      \
  X(LANES)                   \
  X(ROWS)                    \
  X(SG)                      \
  X(HALF)                    \
  X(TM)                      \
  X(TN)                      \
  X(BM)                      \
  X(BN)                      \
  X(HD)                      \
  X(KTYPE)                   \
  X(CAUSAL)                  \
  X(QB)                      \
  X(LPQ)                     \
  X(BQ)                      \
  X(BK)                      \
  X(QN)                      \
  X(SPLIT)                   \
  X(NT)                      \
  X(WG)                      \
  X(ST)                      \
  X(DT)                      \
  X(COLUMN_MAJOR)            \
  X(GELU_ERF)                \
  X(TTYPE)                   \
  X(HALF_SPLIT)
enum class ClDef : uint8_t {
#define BLUECL_X(name) name,
  BLUECL_CL_DEFINES(BLUECL_X)
#undef BLUECL_X
};
std::string_view cl_def_name(ClDef d);

// -D defines for one build of a program; the same .cl source serves every variant. A fixed-size value
// (ids and integers, no strings): launchers build one per launch at no cost, and the kernel cache
// compares it directly. The text form is made only to build a program or to log a launch.
struct ClDefines {
  static constexpr int kMax = 8;
  std::array<ClDef, kMax> name{};
  std::array<int32_t, kMax> value{};
  uint8_t n = 0;

  ClDefines& set(ClDef d, int64_t v) {
    BLUECL_ASSERT(n < kMax, "more than {} defines", kMax);
    name[n] = d;
    value[n] = static_cast<int32_t>(v);
    ++n;
    return *this;
  }
  bool operator==(const ClDefines&) const = default;  // unused slots stay zero
  uint64_t hash() const;
  std::string str() const;  // " -DNAME=value ..." in the order set
};

struct ClBuildStats {
  int compiled = 0;       // built from source
  int from_cache = 0;     // loaded from the disk cache
  double compile_ms = 0;  // wall time spent compiling
  double load_ms = 0;     // wall time spent loading cached binaries
};

class ClPrograms {
 public:
  ClPrograms(cl::Context ctx, cl::Device dev, const DeviceFeatures& features);

  // The built program for (p, defines); builds or loads it on first use. Thread-safe.
  const cl::Program& get(ClProgram p, const ClDefines& defines);

  // Options every build gets, derived from the device (HAS_FP16, HAS_SUBGROUPS, -cl-std).
  const std::string& base_options() const { return base_options_; }
  ClBuildStats stats() const;
  const std::string& cache_dir() const { return cache_dir_; }

 private:
  std::string source_of(ClProgram p) const;
  cl::Program build(ClProgram p, const std::string& source, const std::string& options);

  cl::Context ctx_;
  cl::Device dev_;
  DeviceFeatures features_;
  std::string base_options_;
  std::string cache_dir_;  // empty: disabled
  mutable std::mutex mu_;
  std::map<std::pair<int, std::string>, cl::Program> programs_;
  ClBuildStats stats_;
};

}  // namespace bluecl
