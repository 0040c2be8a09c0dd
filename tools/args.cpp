#include "tools/args.h"

#include "graph/base/parse.h"

#include <charconv>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace bluecl::cli {

namespace {

std::vector<std::string> split_names(std::string_view names) {
  std::vector<std::string> out;
  std::stringstream ss{std::string(names)};
  for (std::string n; std::getline(ss, n, ',');) out.push_back(n);
  return out;
}

// The name an error uses: the long form ("--n-predict" of "-n,--n-predict").
std::string display_name(std::string_view names) {
  const size_t comma = names.rfind(',');
  return std::string(comma == std::string_view::npos ? names : names.substr(comma + 1));
}

}  // namespace

Args::Args(std::string command, std::string usage, std::string description)
    : command_(std::move(command)), usage_(std::move(usage)), description_(std::move(description)) {}

Args& Args::opt(std::string_view names, std::string* out, std::string help, std::string metavar) {
  opts_.push_back(
      {split_names(names), std::move(help), std::move(metavar), [out](const std::string& v) { *out = v; }});
  return *this;
}

Args& Args::opt(std::string_view names, int64_t* out, std::string help, IntRange range, std::string metavar) {
  const std::string n = display_name(names);
  opts_.push_back({split_names(names), std::move(help), std::move(metavar),
                   [out, n, range](const std::string& v) { *out = parse_int(n, v, range.lo, range.hi); }});
  return *this;
}

Args& Args::opt(std::string_view names, double* out, std::string help, RealRange range, std::string metavar) {
  const std::string n = display_name(names);
  opts_.push_back({split_names(names), std::move(help), std::move(metavar),
                   [out, n, range](const std::string& v) { *out = parse_real(n, v, range.lo, range.hi); }});
  return *this;
}

Args& Args::flag(std::string_view names, bool* out, std::string help) {
  opts_.push_back(
      {split_names(names), std::move(help), "", [out](const std::string&) { *out = true; }, false});
  return *this;
}

Args& Args::multi(std::string_view names, std::vector<std::string>* out, std::string help,
                  std::string metavar) {
  opts_.push_back({split_names(names), std::move(help), std::move(metavar),
                   [out](const std::string& v) { out->push_back(v); }});
  return *this;
}

Args& Args::positional(std::string name, std::string* out, std::string help, bool required) {
  pos_.push_back({std::move(name), std::move(help), out, required});
  return *this;
}

bool Args::parse(int argc, char** argv) {
  size_t n_pos = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    if (a.size() > 1 && a[0] == '-' &&
        !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
      std::string name = a, value;
      bool has_inline = false;
      if (const size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
        has_inline = true;
      }
      const Opt* found = nullptr;
      for (const Opt& o : opts_)
        for (const std::string& n : o.names)
          if (n == name) found = &o;
      if (!found)
        throw std::runtime_error("unknown option " + name + " (see bluecl " + command_ + " --help)");
      if (found->takes_value && !has_inline) {
        if (i + 1 >= argc) throw std::runtime_error(name + " needs a value (" + found->metavar + ")");
        value = argv[++i];
      }
      found->set(value);
      continue;
    }
    if (n_pos >= pos_.size())
      throw std::runtime_error("unexpected argument '" + a + "' (see bluecl " + command_ + " --help)");
    *pos_[n_pos++].out = a;
  }
  for (size_t i = n_pos; i < pos_.size(); ++i)
    if (pos_[i].required)
      throw std::runtime_error("missing " + pos_[i].name + " (see bluecl " + command_ + " --help)");
  return true;
}

std::string Args::help() const {
  std::string s = "usage: bluecl " + command_ + " " + usage_ + "\n\n" + description_ + "\n";
  if (!pos_.empty()) {
    s += "\narguments:\n";
    for (const Pos& p : pos_)
      s += "  " + p.name + std::string(p.name.size() < 24 ? 24 - p.name.size() : 1, ' ') + p.help + "\n";
  }
  s += "\noptions:\n";
  for (const Opt& o : opts_) {
    std::string left = "  ";
    for (size_t i = 0; i < o.names.size(); ++i) left += (i ? ", " : "") + o.names[i];
    if (o.takes_value) left += " " + o.metavar;
    s += left + (left.size() < 26 ? std::string(26 - left.size(), ' ') : "\n" + std::string(26, ' ')) +
         o.help + "\n";
  }
  s += "  -h, --help              show this help\n";
  return s;
}

int usage_error(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "bluecl %s: %s\n", command.c_str(), message.c_str());
  return 2;
}

}  // namespace bluecl::cli
