#include "backend/cl/cl_programs.h"

#include "backend/cache_dir.h"
#include "backend/cl/cl_error.h"
#include "graph/base/atomic_file.h"
#include "graph/base/error.h"
#include "graph/base/hash.h"
#include "graph/base/log.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

namespace bluecl {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'B', 'L', 'U', 'E', 'C', 'L', 'P', 'B'};
constexpr uint32_t kFormat = 2;  // 2: XXH3 key and checksum

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) fail(Status::Io, "cannot read kernel source {}", p.string());
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Cache file: magic, format, key (XXH3-128, low then high u64), binary size (u64), binary, XXH3-64 of
// the binary (u64).
std::vector<unsigned char> load_cached(const fs::path& path, const Hash128& key) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  char magic[8];
  uint32_t format = 0;
  Hash128 stored_key;
  uint64_t size = 0, sum = 0;
  f.read(magic, 8).read(reinterpret_cast<char*>(&format), 4);
  f.read(reinterpret_cast<char*>(&stored_key.lo), 8).read(reinterpret_cast<char*>(&stored_key.hi), 8);
  f.read(reinterpret_cast<char*>(&size), 8);
  if (!f || std::memcmp(magic, kMagic, 8) != 0 || format != kFormat || stored_key != key || size > (1u << 30))
    return {};
  std::vector<unsigned char> bin(size);
  f.read(reinterpret_cast<char*>(bin.data()), static_cast<std::streamsize>(size));
  f.read(reinterpret_cast<char*>(&sum), 8);
  if (!f) return {};
  const std::string_view view(reinterpret_cast<const char*>(bin.data()), bin.size());
  if (hash64(view) != sum) return {};
  return bin;
}

void store_cached(const fs::path& path, const Hash128& key, const std::vector<unsigned char>& bin) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  const uint64_t size = bin.size();
  const std::string_view payload(reinterpret_cast<const char*>(bin.data()), bin.size());
  const uint64_t sum = hash64(payload);
  try {
    AtomicFile f(path);  // readers see the old file or the whole new one
    f.write(kMagic, 8);
    f.write(&kFormat, 4);
    f.write(&key.lo, 8);
    f.write(&key.hi, 8);
    f.write(&size, 8);
    f.write(payload);
    f.write(&sum, 8);
    f.commit();
  } catch (const Error& e) {
    log(LogLevel::Warn, "cl", "cannot write the program cache at {}: {}", path.parent_path().string(),
        e.what());
  }
}

}  // namespace

std::string_view cl_def_name(ClDef d) {
  static constexpr std::string_view kNames[] = {
#define BLUECL_X(name) #name,
      BLUECL_CL_DEFINES(BLUECL_X)
#undef BLUECL_X
  };
  return kNames[static_cast<size_t>(d)];
}

uint64_t ClDefines::hash() const {
  uint64_t h = n;
  for (int i = 0; i < n; ++i)
    h = (h ^ (static_cast<uint64_t>(name[i]) << 32 | static_cast<uint32_t>(value[i]))) *
        0x9E3779B97F4A7C15ull;
  return h;
}

std::string ClDefines::str() const {
  std::string s;
  for (int i = 0; i < n; ++i) s += fmt::format(" -D{}={}", cl_def_name(name[i]), value[i]);
  return s;
}

ClPrograms::ClPrograms(cl::Context ctx, cl::Device dev, const DeviceFeatures& features)
    : ctx_(std::move(ctx)), dev_(std::move(dev)), features_(features), cache_dir_(bluecl::cache_dir()) {
  base_options_ = fmt::format(
      "-cl-std=CL{}.{} -DHAS_FP16={} -DHAS_SUBGROUPS={}", std::min(features.cl_c_major, 1),
      features.cl_c_major > 1 ? 2 : features.cl_c_minor, features.fp16 ? 1 : 0, features.subgroups ? 1 : 0);
  // BLUECL_CL_OPTIONS: extra build options for every program (kernel development; the Oclgrind test).
  if (const char* extra = std::getenv("BLUECL_CL_OPTIONS"); extra && *extra)
    base_options_ += fmt::format(" {}", extra);
}

ClBuildStats ClPrograms::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::string ClPrograms::source_of(ClProgram p) const {
  const ClProgramSource& src = cl_program_source(p);
  if (const char* dir = std::getenv("BLUECL_KERNEL_DIR"); dir && *dir)
    return read_file(fs::path(dir) / "common.cl") + "\n" +
           read_file(fs::path(dir) / (std::string(src.stem) + ".cl"));
  return std::string(cl_common_source()) + "\n" + std::string(src.source);
}

cl::Program ClPrograms::build(ClProgram p, const std::string& source, const std::string& options) {
  const std::string_view stem = cl_program_source(p).stem;
  const std::string key_text = fmt::format(
      "{}\n{}\n{}\n{}\n{}\n{}\n{}", source, options, features_.device_name, features_.device_version,
      features_.driver_version, features_.platform_name, features_.platform_version);
  const Hash128 key = hash128(key_text);
  const fs::path cache_file =
      cache_dir_.empty() ? fs::path() : fs::path(cache_dir_) / fmt::format("{}-{}.bin", stem, key.hex());

  if (!cache_file.empty()) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<unsigned char> bin = load_cached(cache_file, key);
    if (!bin.empty()) {
      try {
        cl::Program prog(ctx_, {dev_}, cl::Program::Binaries{bin});
        prog.build({dev_}, options.c_str());
        stats_.from_cache++;
        stats_.load_ms += ms_since(t0);
        return prog;
      } catch (const cl::Error& e) {
        log(LogLevel::Warn, "cl", "cached binary for {}.cl rejected ({}); compiling", stem,
            cl_error_name(e.err()));
      }
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  log(LogLevel::Info, "cl", "compiling {}.cl for {}", stem, features_.device_name);
  cl::Program prog =
      cl_guard(fmt::format("creating program {}.cl", stem), [&] { return cl::Program(ctx_, source); });
  try {
    prog.build({dev_}, options.c_str());
  } catch (const cl::Error& e) {
    std::string build_log;
    try {
      build_log = prog.getBuildInfo<CL_PROGRAM_BUILD_LOG>(dev_);
    } catch (const cl::Error&) {
      build_log = "(no build log)";
    }
    fail(Status::Device, "building cl_kernels/{}.cl failed on {}: {} ({})\noptions: {}\nbuild log:\n{}", stem,
         features_.device_name, cl_error_name(e.err()), e.err(), options, build_log);
  }
  stats_.compiled++;
  stats_.compile_ms += ms_since(t0);
  if (!cache_file.empty()) {
    try {
      std::vector<std::vector<unsigned char>> bins = prog.getInfo<CL_PROGRAM_BINARIES>();
      if (!bins.empty() && !bins[0].empty()) store_cached(cache_file, key, bins[0]);
    } catch (const cl::Error& e) {
      log(LogLevel::Debug, "cl", "no program binary for {}.cl: {}", stem, cl_error_name(e.err()));
    }
  }
  return prog;
}

const cl::Program& ClPrograms::get(ClProgram p, const ClDefines& defines) {
  std::string options = base_options_ + defines.str();
  // Integer dot products are OpenCL C 3.0 built-ins (cl_khr_integer_dot_product): that program is built
  // as 3.0 where the device has it (the later -cl-std wins); elsewhere its launcher declines first.
  if (p == ClProgram::MatmulDot && features_.cl_c_major >= 3) options += " -cl-std=CL3.0";
  std::lock_guard lock(mu_);
  auto key = std::make_pair(static_cast<int>(p), options);
  auto it = programs_.find(key);
  if (it != programs_.end()) return it->second;
  cl::Program prog = build(p, source_of(p), options);
  return programs_.emplace(std::move(key), std::move(prog)).first->second;
}

}  // namespace bluecl
