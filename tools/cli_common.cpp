#include "tools/cli_common.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <unistd.h>

namespace bluecl::cli {

void check(bluecl_status status, const char* what) {
  if (status == BLUECL_OK) return;
  throw Failure{std::string(what) + ": " + bluecl_last_error(),
                status == BLUECL_ERR_INVALID_ARGUMENT ? 2 : 1};
}

int run_command(const char* command, int (*body)(int, char**), int argc, char** argv) {
  try {
    return body(argc, argv);
  } catch (const Failure& f) {
    std::fprintf(stderr, "\nbluecl %s: %s\n", command, f.message.c_str());
    return f.code;
  } catch (const std::runtime_error& e) {  // argument errors from Args
    return usage_error(command, e.what());
  }
}

int stderr_progress(const char* stage, float fraction, void* user) {
  // On a terminal, one line per stage redrawn in place; in a log, a line when a stage starts and ends.
  static const bool tty = isatty(fileno(stderr));
  static std::string last_stage;
  static int last_pct = -1;
  const int pct = static_cast<int>(std::lround(fraction * 100));
  const bool new_stage = last_stage != stage;
  if (!new_stage && pct == last_pct) return 0;
  if (tty) {
    if (new_stage && !last_stage.empty() && last_pct < 100) std::fputc('\n', stderr);
    std::fprintf(stderr, "\r%s %3d%%%s", stage, pct, pct >= 100 ? "\n" : "");
  } else if (new_stage || pct >= 100) {
    if (new_stage)
      std::fprintf(stderr, "%s...%s", stage, pct >= 100 ? " done\n" : "\n");
    else
      std::fprintf(stderr, "%s done\n", stage);
  }
  std::fflush(stderr);
  last_stage = stage;
  last_pct = pct;
  return 0;
}

void DeviceArgs::declare(Args& a) {
  a.opt("--device", &device,
        "OpenCL device: an index or a name substring (see bluecl devices), or cpu for the CPU alone "
        "(default: BLUECL_DEVICE, else the first GPU, else the first OpenCL device)",
        "D");
  a.opt("-t,--threads", &threads, "CPU threads (default: every core)", {0, 1024});
  a.opt("--pin", &pins, "pin ops to devices by output name, e.g. \"logits=cpu,ffn_*=cl\"", "PATTERN=DEV,...");
  a.opt("--placement", &placement,
        "cost: each op where a per-device calibration (run once, cached) says it is fastest; device: the "
        "OpenCL device unless it declines the op (default: BLUECL_PLACEMENT, else cost)",
        "cost|device");
  a.flag("--exact", &exact,
         "the CPU runs the exact fp32 reference path (default: the fast path, which runs quantised "
         "matmuls on 8-bit activations as llama.cpp does)");
}

bluecl_model_params DeviceArgs::model_params() const {
  bluecl_model_params p = bluecl_model_default_params();
  p.device = device.c_str();
  p.n_threads = static_cast<int32_t>(threads);
  p.pins = pins.empty() ? nullptr : pins.c_str();
  p.placement = placement.empty() ? nullptr : placement.c_str();
  p.exact_cpu = exact ? 1 : 0;
  p.progress = stderr_progress;
  return p;
}

}  // namespace bluecl::cli
