#include "backend/cl/cl_tuning.h"

#include "backend/cache_dir.h"
#include "graph/base/atomic_file.h"
#include "graph/base/error.h"
#include "graph/base/hash.h"
#include "graph/base/log.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bluecl {

namespace {

constexpr const char* kHeader = "# bluecl tuning v1";

}  // namespace

std::string matmul_tuning_key(DType weight, int64_t rows) {
  return fmt::format("matmul/{}/{}", dtype_name(weight), rows > 4 ? "gemm" : "gemv");
}

std::string ClLaunch::str() const {
  std::string s = variant;
  for (const auto& [k, v] : params) s += fmt::format(" {}={}", k, v);
  return s;
}

std::string ClTuning::path_for(const DeviceFeatures& f) {
  const std::string dir = cache_dir();
  if (dir.empty()) return {};
  // A device profile (BLUECL_DEVICE_PROFILE) tunes within its own limits, so it gets its own file.
  std::string key = fmt::format("{}\n{}\n{}\n{}\n{}", f.device_name, f.device_version, f.driver_version,
                                f.platform_name, f.platform_version);
  if (!f.profile.empty()) key += "\nprofile " + f.profile;
  return fmt::format("{}/tune-{}.txt", dir, hash128(key).hex());
}

bool ClTuning::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return false;
  std::map<std::string, ClLaunch, std::less<>> got;
  std::string line;
  int line_no = 0;
  auto bad = [&](std::string_view why) {
    log(LogLevel::Warn, "cl", "ignoring the tuning file {} (line {}: {}); run `bluecl tune` again", path,
        line_no, why);
    return false;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1) {
      if (line != kHeader) return bad("not a bluecl tuning file of this version");
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string key, variant, param;
    if (!(ls >> key >> variant)) return bad("expected `key variant [name=value ...]`");
    ClLaunch l{variant, {}};
    while (ls >> param) {
      const size_t eq = param.find('=');
      int v = 0;
      if (eq == std::string::npos || eq == 0)
        return bad(fmt::format("parameter `{}` is not name=value", param));
      const char* b = param.data() + eq + 1;
      const char* e = param.data() + param.size();
      const auto [p, ec] = std::from_chars(b, e, v);
      if (ec != std::errc() || p != e || v <= 0 || v > 4096)
        return bad(fmt::format("parameter `{}` out of range", param));
      l.params[param.substr(0, eq)] = v;
    }
    got[key] = std::move(l);
  }
  choices_ = std::move(got);
  return true;
}

void ClTuning::save(const std::string& path) const {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string text = std::string(kHeader) + "\n";
  for (const auto& [key, l] : choices_) text += key + " " + l.str() + "\n";
  write_file_atomic(path, text);  // readers see the old file or the whole new one
}

const ClLaunch* ClTuning::find(std::string_view key) const {
  auto it = choices_.find(key);
  return it == choices_.end() ? nullptr : &it->second;
}

}  // namespace bluecl
