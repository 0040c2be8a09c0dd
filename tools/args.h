// Command-line parsing for the bluecl subcommands: options are declared with their help text, parsed
// strictly (an unknown option or a missing value is an error that names it), and --help prints them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bluecl::cli {

class Args {
 public:
  Args(std::string command, std::string usage, std::string description);

  // Declare options; `names` like "-m,--model". The value lands in *out when given. A number must lie in
  // its range (a value outside it, or text that is not a number, is an error naming the option, the value
  // and the range), so every value a command passes on fits the type it is passed as.
  struct IntRange {
    int64_t lo, hi;
  };
  struct RealRange {
    double lo, hi;
  };
  Args& opt(std::string_view names, std::string* out, std::string help, std::string metavar = "TEXT");
  Args& opt(std::string_view names, int64_t* out, std::string help, IntRange range,
            std::string metavar = "N");
  Args& opt(std::string_view names, double* out, std::string help, RealRange range,
            std::string metavar = "X");
  Args& flag(std::string_view names, bool* out, std::string help);
  Args& multi(std::string_view names, std::vector<std::string>* out, std::string help,
              std::string metavar = "TEXT");
  Args& positional(std::string name, std::string* out, std::string help, bool required = true);

  // Returns false when --help was printed (the caller exits 0). Throws std::runtime_error with a message
  // for bad arguments (the caller prints it and exits 2).
  bool parse(int argc, char** argv);
  std::string help() const;

 private:
  struct Opt {
    std::vector<std::string> names;
    std::string help, metavar;
    std::function<void(const std::string&)> set;
    bool takes_value = true;
  };
  struct Pos {
    std::string name, help;
    std::string* out;
    bool required;
  };
  std::string command_, usage_, description_;
  std::vector<Opt> opts_;
  std::vector<Pos> pos_;
};

// Prints "bluecl <command>: <message>" to stderr; returns the exit code for bad arguments (2).
int usage_error(const std::string& command, const std::string& message);

}  // namespace bluecl::cli
