#include "host/runtime/profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace bluecl {

OpProfile& OpProfile::get() {
  static OpProfile p;
  return p;
}

void OpProfile::start() {
  std::lock_guard lock(mu_);
  rows_.clear();
  steps_ = 0;
  on_ = true;
}

void OpProfile::stop() {
  std::lock_guard lock(mu_);
  on_ = false;
}

std::string profile_role(const std::string& name) {
  size_t end = name.size();
  while (end > 0 && std::isdigit(static_cast<unsigned char>(name[end - 1]))) --end;
  if (end < name.size() && end > 0 && name[end - 1] == '-') return name.substr(0, end - 1);
  return name;
}

void OpProfile::record(const std::string& name, std::string_view op, std::string_view device,
                       double seconds) {
  std::lock_guard lock(mu_);
  if (!on_) return;
  Row& r = rows_[Key{profile_role(name), std::string(op), std::string(device)}];
  ++r.calls;
  r.seconds += seconds;
}

void OpProfile::step() {
  std::lock_guard lock(mu_);
  if (on_) ++steps_;
}

std::map<OpProfile::Key, OpProfile::Row> OpProfile::rows() const {
  std::lock_guard lock(mu_);
  return rows_;
}

std::string OpProfile::table() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<Key, Row>> v(rows_.begin(), rows_.end());
  std::sort(v.begin(), v.end(),
            [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  double total = 0;
  int64_t calls = 0;
  for (const auto& [k, r] : v) {
    total += r.seconds;
    calls += r.calls;
  }
  const double steps = static_cast<double>(std::max<int64_t>(steps_, 1));
  std::string s = fmt::format("op profile: {} steps, {} node runs, {:.2f} ms per step\n\n", steps_, calls,
                              total * 1e3 / steps);
  s += "| node | op | device | runs per step | ms per step | us per run | share |\n";
  s += "|---|---|---|---:|---:|---:|---:|\n";
  for (const auto& [k, r] : v)
    s += fmt::format("| {} | {} | {} | {:.1f} | {:.3f} | {:.1f} | {:.1f}% |\n", std::get<0>(k),
                     std::get<1>(k), std::get<2>(k), r.calls / steps, r.seconds * 1e3 / steps,
                     r.seconds * 1e6 / r.calls, total > 0 ? 100 * r.seconds / total : 0.0);
  return s;
}

}  // namespace bluecl
