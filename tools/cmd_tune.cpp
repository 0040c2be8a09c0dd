// bluecl tune: finds the fastest correct launch of each hot OpenCL kernel on a device at a model's shapes
// and keeps it in the device's tuning file, which later runs read (see bluecl_tune in bluecl.h).
#include "tools/cli_common.h"
#include "tools/commands.h"

#include <cstdio>
#include <stdexcept>
#include <string>

namespace bluecl::cli {

namespace {

void print_result(const bluecl_tune_result* r, void*) {
  const double gain = r->best_ms > 0 && r->default_ms > 0 ? r->default_ms / r->best_ms : 0;
  std::printf("| %-20s | %-26s | %10.3f | %10.3f | %5.2fx | %3d / %-3d |\n", r->key, r->best, r->default_ms,
              r->best_ms, gain, r->n_rejected, r->n_tried);
  std::fflush(stdout);
}

int body(int argc, char** argv) {
  std::string model, mmproj, device;
  int64_t chunk = 128, threads = 0;
  bool quick = false, dry = false;
  Args a(
      "tune", "[-m MODEL.gguf] [--mmproj VISION.gguf] [options]",
      "Tries the launch parameters of each hot OpenCL kernel (matmul per weight type for one token and for\n"
      "a prefill chunk, rms_norm, layer_norm: variant, work-group size, outputs per work-item, tile shape)\n"
      "at the model's shapes, rejects every launch whose result differs from the CPU reference, and keeps\n"
      "the fastest in a tuning file beside the program cache, keyed by device and driver. Later runs on "
      "that\n"
      "device use it (BLUECL_TUNING=off ignores it). Without -m/--mmproj: the full-size bluelm-v-3b shapes.\n"
      "Times are kernel times by OpenCL event profiling, summed over the key's shapes.");
  a.opt("-m,--model", &model, "the language model whose matrices are tuned", "FILE");
  a.opt("--mmproj", &mmproj, "the vision tower whose matrices are tuned", "FILE");
  a.opt("--device", &device, "the OpenCL device: an index or a name substring (default: as bluecl run)", "D");
  a.opt("--chunk", &chunk, "rows of the prefill shapes (default 128)", {1, 1 << 20});
  a.opt("-t,--threads", &threads, "CPU threads for the reference (default: every core)", {0, 1024});
  a.flag("--quick", &quick, "small shapes and few candidates (a smoke test, not a tuning)");
  a.flag("--dry-run", &dry, "measure and print, but do not write the tuning file");
  if (!a.parse(argc, argv)) return 0;
  if (chunk < 5 || chunk > 65536) throw std::runtime_error("--chunk must be in [5, 65536]");
  bluecl_tune_params p = bluecl_tune_default_params();
  p.device = device.c_str();
  p.model = model.empty() ? nullptr : model.c_str();
  p.mmproj = mmproj.empty() ? nullptr : mmproj.c_str();
  p.n_chunk = static_cast<int32_t>(chunk);
  p.quick = quick ? 1 : 0;
  p.save = dry ? 0 : 1;
  p.n_threads = static_cast<int32_t>(threads);
  p.progress = stderr_progress;
  p.on_result = print_result;
  std::printf("| %-20s | %-26s | %10s | %10s | %6s | %-9s |\n", "kernel", "best launch", "default ms",
              "best ms", "gain", "rejected");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(22, '-').c_str(), std::string(28, '-').c_str(),
              std::string(12, '-').c_str(), std::string(12, '-').c_str(), std::string(8, '-').c_str(),
              std::string(11, '-').c_str());
  char file[1024];
  check(bluecl_tune(&p, file, sizeof file), "tuning");
  if (!dry) std::fprintf(stderr, "tuning written to %s\n", file);
  return 0;
}

}  // namespace

int tune_main(int argc, char** argv) {
  return run_command("tune", body, argc, argv);
}

}  // namespace bluecl::cli
