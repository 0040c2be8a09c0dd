// bluecl: the command-line interface. `bluecl <command> --help` explains each command.
#include "tools/cli_common.h"
#include "tools/commands.h"

#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

struct Command {
  const char* name;
  int (*main)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"run", bluecl::cli::run_main, "generate text from a prompt (streams to stdout)"},
    {"devices", bluecl::cli::devices_main, "list OpenCL platforms and devices with their features"},
    {"tokenize", bluecl::cli::tokenize_main, "print the token ids of a text"},
    {"encode", bluecl::cli::encode_main,
     "run the vision tower alone: image tokens of an image (raw float32)"},
    {"logits", bluecl::cli::logits_main, "write teacher-forced logits of a token sequence (raw float32)"},
    {"grid", bluecl::cli::grid_main, "the tile grid chosen for an image size"},
    {"plan", bluecl::cli::plan_main, "show where each op runs and why (the placement plan)"},
    {"bench", bluecl::cli::bench_main, "measure limits, and a model's load, prefill and decode speed"},
    {"tune", bluecl::cli::tune_main,
     "find the fastest correct OpenCL kernel launches for this device (kept for later runs)"},
    {"gen-model", bluecl::cli::gen_model_main,
     "write a random-weight model (for tests, demos and benchmarks)"},
};

void print_help() {
  std::printf(
      "bluecl %s: BlueLM-V-3B-style multimodal LLM inference on OpenCL devices, with a CPU path for every "
      "op.\n\n"
      "usage: bluecl <command> [options]   (bluecl <command> --help for its options)\n\ncommands:\n",
      bluecl_version());
  for (const Command& c : kCommands) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf(
      "\nenvironment:\n"
      "  BLUECL_DEVICE      default OpenCL device (index or name substring)\n"
      "  BLUECL_THREADS     CPU threads\n"
      "  BLUECL_LOG         log level: debug, info, warn, error, off (default info)\n"
      "  BLUECL_CACHE_DIR   compiled-kernel cache (default ~/.cache/bluecl; none disables it)\n"
      "  BLUECL_DECLINE     ops the OpenCL backend declines (they run on the CPU), e.g. rope,softmax\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("bluecl %s\n", bluecl_version());
    return 0;
  }
  for (const Command& c : kCommands)
    if (std::string_view(argv[1]) == c.name) return c.main(argc - 1, argv + 1);
  std::fprintf(stderr, "bluecl: unknown command '%s' (bluecl --help lists them)\n", argv[1]);
  return 2;
}
