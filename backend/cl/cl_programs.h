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

#include <CL/opencl.hpp>

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bluecl {

// -D defines for one build of a program; the same .cl source serves every variant.
struct ClDefines {
  std::vector<std::pair<std::string, std::string>> defs;
  ClDefines& set(std::string name, std::string value) {
    defs.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  ClDefines& set(std::string name, long long value) { return set(std::move(name), std::to_string(value)); }
  std::string str() const;  // "-DNAME=value ..."
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
