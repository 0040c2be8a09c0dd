#include "backend/cl/cl_tuning.h"

#include "backend/cache_dir.h"
#include "graph/base/atomic_file.h"
#include "graph/base/error.h"
#include "graph/base/hash.h"
#include "graph/base/log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bluecl {

namespace {

constexpr const char* kHeader = "# bluecl tuning v1";

constexpr std::string_view kVariantNames[] = {"",
#define BLUECL_X(id, text) text,
                                              BLUECL_CL_VARIANTS(BLUECL_X)
#undef BLUECL_X
};

// Every key, in slot order.
std::vector<ClTuningKey> all_keys() {
  std::vector<ClTuningKey> v;
  for (auto k : {ClTuningKey::Kernel::MatmulGemv, ClTuningKey::Kernel::MatmulGemm})
    for (int t = 0; t < kNumDTypes; ++t) v.push_back({k, static_cast<DType>(t)});
  v.push_back(ClTuningKey::rms_norm());
  v.push_back(ClTuningKey::layer_norm());
  return v;
}

}  // namespace

// In alphabetical order, so that str() writes what the file format always had.
const std::array<ClLaunchParamName, 8> kClLaunchParamNames = {{{"bm", &ClLaunchParams::bm},
                                                               {"bn", &ClLaunchParams::bn},
                                                               {"items", &ClLaunchParams::items},
                                                               {"lanes", &ClLaunchParams::lanes},
                                                               {"rows", &ClLaunchParams::rows},
                                                               {"tm", &ClLaunchParams::tm},
                                                               {"tn", &ClLaunchParams::tn},
                                                               {"wg", &ClLaunchParams::wg}}};

std::string_view variant_name(ClVariant v) {
  return kVariantNames[static_cast<size_t>(v)];
}

std::optional<ClVariant> parse_variant(std::string_view text) {
  for (size_t i = 1; i < std::size(kVariantNames); ++i)
    if (kVariantNames[i] == text) return static_cast<ClVariant>(i);
  return std::nullopt;
}

bool ClTuningKey::accepts(ClVariant v) const {
  using V = ClVariant;
  switch (kernel) {
    case Kernel::MatmulGemv:
      return v == V::Rows || v == V::Vec || v == V::VecSg || v == V::VecH || v == V::Gemv;
    case Kernel::MatmulGemm:
      return v == V::Tile || v == V::TileH || v == V::TileDot || v == V::Tiled || v == V::Cols;
    case Kernel::RmsNorm:
    case Kernel::LayerNorm:
      return v == V::Row || v == V::Wg;
  }
  return false;
}

std::string ClTuningKey::str() const {
  switch (kernel) {
    case Kernel::MatmulGemv:
      return fmt::format("matmul/{}/gemv", dtype_name(weight));
    case Kernel::MatmulGemm:
      return fmt::format("matmul/{}/gemm", dtype_name(weight));
    case Kernel::RmsNorm:
      return "rms_norm";
    case Kernel::LayerNorm:
      return "layer_norm";
  }
  return {};
}

std::optional<ClTuningKey> ClTuningKey::parse(std::string_view text) {
  for (const ClTuningKey& k : all_keys())
    if (k.str() == text) return k;
  return std::nullopt;
}

std::string ClLaunch::str() const {
  std::string s(variant_name(variant));
  for (const ClLaunchParamName& n : kClLaunchParamNames)
    if (const std::optional<int>& v = p.*n.field) s += fmt::format(" {}={}", n.name, *v);
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

size_t ClTuning::size() const {
  size_t n = 0;
  for (const auto& s : slots_) n += s ? 1 : 0;
  return n;
}

std::vector<std::pair<ClTuningKey, ClLaunch>> ClTuning::choices() const {
  std::vector<std::pair<ClTuningKey, ClLaunch>> v;
  for (const ClTuningKey& k : all_keys())
    if (const ClLaunch* l = find(k)) v.emplace_back(k, *l);
  return v;
}

bool ClTuning::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return false;
  std::array<std::optional<ClLaunch>, ClTuningKey::kCount> got{};
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
    std::string key_text, variant_text, param;
    if (!(ls >> key_text >> variant_text)) return bad("expected `key variant [name=value ...]`");
    const std::optional<ClTuningKey> key = ClTuningKey::parse(key_text);
    if (!key) return bad(fmt::format("unknown key `{}`", key_text));
    const std::optional<ClVariant> variant = parse_variant(variant_text);
    if (!variant) return bad(fmt::format("unknown variant `{}`", variant_text));
    if (!key->accepts(*variant))
      return bad(fmt::format("`{}` is not a variant of {}", variant_text, key_text));
    ClLaunch l{*variant, {}};
    while (ls >> param) {
      const size_t eq = param.find('=');
      if (eq == std::string::npos || eq == 0)
        return bad(fmt::format("parameter `{}` is not name=value", param));
      const std::string_view name = std::string_view(param).substr(0, eq);
      const auto* known = std::find_if(kClLaunchParamNames.begin(), kClLaunchParamNames.end(),
                                       [&](const ClLaunchParamName& n) { return n.name == name; });
      if (known == kClLaunchParamNames.end()) return bad(fmt::format("unknown parameter `{}`", name));
      int v = 0;
      const char* b = param.data() + eq + 1;
      const char* e = param.data() + param.size();
      const auto [p, ec] = std::from_chars(b, e, v);
      if (ec != std::errc() || p != e || v <= 0 || v > 4096)
        return bad(fmt::format("parameter `{}` out of range", param));
      l.p.*known->field = v;
    }
    got[key->index()] = std::move(l);
  }
  slots_ = got;
  return true;
}

void ClTuning::save(const std::string& path) const {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string text = std::string(kHeader) + "\n";
  for (const auto& [key, l] : choices()) text += key.str() + " " + l.str() + "\n";
  write_file_atomic(path, text);  // readers see the old file or the whole new one
}

}  // namespace bluecl
